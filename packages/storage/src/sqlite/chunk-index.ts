/**
 * @module The chunk store's index in SQLite, in the same database as the versions: a version commit and a
 * garbage-collection sweep both take the write lock, so they can never interleave, even across processes.
 */
import {
  type ChunkIndex,
  type ChunkLocation,
  type ChunkRef,
  type ClaimedContent,
  type ContentRecord,
  type PackRecord,
  type PackUsage,
  type StorageStats,
  sameChunks,
  type UploadSession,
} from "@cairn/core";
import { SESSION_SELECT, type SessionRow, toSession } from "../_session-rows.js";
import type { Connection } from "./_connection.js";

const bin = (hex: string): Buffer => Buffer.from(hex, "hex");
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
// SQLite's default limit on bound parameters is 32766; stay well below it per statement.
const BATCH = 500;

function* batches<T>(items: readonly T[], size = BATCH): Iterable<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

const placeholders = (n: number): string => Array.from({ length: n }, () => "?").join(",");

interface LocationRow {
  hash: Buffer;
  key: string;
  offset: number;
  length: number;
}

export class SqliteChunkIndex implements ChunkIndex {
  private readonly c: Connection;

  constructor(connection: Connection) {
    this.c = connection;
  }

  touchSession(session: UploadSession): Promise<void> {
    return this.c.write("cannot record the upload session", () => {
      this.c
        .sql(
          `INSERT INTO upload_sessions (id, host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
        )
        .run(session.id, session.host, session.pid, session.startedAt, session.heartbeatAt);
    });
  }

  claimChunks(sessionId: string, hashes: string[]): Promise<Set<string>> {
    return this.c.write("cannot claim chunks", () => {
      const found = new Set<string>();
      for (const batch of batches(hashes)) {
        const values = batch.map(bin);
        const rows = this.c
          .sql<{ hash: Buffer; pack_id: number }>(
            `SELECT hash, pack_id FROM chunks WHERE hash IN (${placeholders(values.length)})`,
          )
          .all(...values);
        // Look up and claim in one transaction: GC either ran before (and we see what it left) or runs after
        // (and sees our claims). The claim is on each pack that holds a hit: a batch's hits lie in a few.
        const packs = new Set<number>();
        for (const row of rows) {
          found.add(hex(row.hash));
          packs.add(row.pack_id);
        }
        for (const pack of packs) this.claimPack(sessionId, pack);
      }
      return found;
    });
  }

  private claimPack(sessionId: string, packId: number): void {
    this.c
      .sql("INSERT OR IGNORE INTO pack_claims (session_id, pack_id) VALUES (?, ?)")
      .run(sessionId, packId);
  }

  endSession(sessionId: string): Promise<void> {
    return this.c.write("cannot end the upload session", () => {
      this.c.sql("DELETE FROM upload_sessions WHERE id = ?").run(sessionId);
    });
  }

  listSessions(): Promise<UploadSession[]> {
    return this.c.read("cannot list upload sessions", () =>
      this.c.sql<SessionRow>(`${SESSION_SELECT} ORDER BY started_at`).all().map(toSession),
    );
  }

  getSession(id: string): Promise<UploadSession | null> {
    return this.c.read(`cannot read upload session ${id}`, () => {
      const row = this.c.sql<SessionRow>(`${SESSION_SELECT} WHERE id = ?`).get(id);
      return row === undefined ? null : toSession(row);
    });
  }

  addPack(pack: PackRecord, chunks: ChunkLocation[], sessionId: string): Promise<void> {
    return this.c.write(`cannot index pack ${pack.key}`, () => {
      const { id } = this.c
        .sql<{ id: number }>(
          "INSERT INTO packs (key, size, chunk_count, created_at) VALUES (?, ?, ?, ?) RETURNING id",
        )
        .get(pack.key, pack.size, pack.chunkCount, pack.createdAt)!;
      this.claimPack(sessionId, id);
      const insert = this.c.sql(
        "INSERT OR IGNORE INTO chunks (hash, pack_id, offset, length) VALUES (?, ?, ?, ?)",
      );
      const elsewhere = this.c.sql<{ pack_id: number }>("SELECT pack_id FROM chunks WHERE hash = ?");
      for (const chunk of chunks) {
        const hash = bin(chunk.hash);
        if (insert.run(hash, id, chunk.offset, chunk.length).changes > 0) continue;
        // Another pack got this chunk first (another push wrote it meanwhile): that pack must stay too.
        this.claimPack(sessionId, elsewhere.get(hash)!.pack_id);
      }
    });
  }

  putContent(sessionId: string, content: ContentRecord): Promise<void> {
    return this.c.write(`cannot record content ${content.sha256}`, () => {
      this.c
        .sql("INSERT OR IGNORE INTO claims (session_id, hash) VALUES (?, ?)")
        .run(sessionId, bin(content.sha256));
      if (this.contentRow(content.sha256)) return;
      const { id } = this.c
        .sql<{ id: number }>(
          "INSERT INTO contents (sha256, size, chunk_count, created_at) VALUES (?, ?, ?, ?) RETURNING id",
        )
        .get(content.sha256, content.size, content.chunks.length, new Date().toISOString())!;
      const insert = this.c.sql(
        "INSERT INTO content_chunks (content_id, ord, hash, length) VALUES (?, ?, ?, ?)",
      );
      content.chunks.forEach((chunk, ord) => {
        insert.run(id, ord, bin(chunk.hash), chunk.length);
      });
    });
  }

  getContent(sha256: string): Promise<ContentRecord | null> {
    return this.c.read(`cannot read content ${sha256}`, () => {
      const row = this.contentRow(sha256);
      if (!row) return null;
      return { sha256, size: row.size, chunks: this.chunksOf(row.id) };
    });
  }

  claimContent(sessionId: string, sha256: string): Promise<ClaimedContent | null> {
    return this.c.write(`cannot claim content ${sha256}`, () => {
      const row = this.contentRow(sha256);
      if (!row) return null;
      this.c.sql("INSERT OR IGNORE INTO claims (session_id, hash) VALUES (?, ?)").run(sessionId, bin(sha256));
      const chunks = this.chunksOf(row.id);
      const stored = new Set(chunks.map((c) => c.hash));
      const missing = this.c.sql<{ hash: string }>(
        `SELECT lower(hex(cc.hash)) AS hash FROM content_chunks cc
         WHERE cc.content_id = ? AND NOT EXISTS (SELECT 1 FROM chunks k WHERE k.hash = cc.hash)`,
      );
      for (const { hash } of missing.all(row.id)) stored.delete(hash);
      return { sha256, size: row.size, chunks, stored };
    });
  }

  findContent(size: number, chunks: readonly ChunkRef[]): Promise<string | null> {
    return this.c.read("cannot look content up by its chunks", () => {
      if (chunks.length === 0) return null;
      // Contents that begin with the same chunk and are as long: then the whole lists are compared.
      const candidates = this.c
        .sql<{ id: number; sha256: string }>(
          `SELECT c.id, c.sha256 FROM content_chunks cc JOIN contents c ON c.id = cc.content_id
           WHERE cc.hash = ? AND cc.ord = 0 AND c.size = ? AND c.chunk_count = ?`,
        )
        .all(bin(chunks[0]!.hash), size, chunks.length);
      return candidates.find((c) => sameChunks(this.chunksOf(c.id), chunks))?.sha256 ?? null;
    });
  }

  private contentRow(sha256: string): { id: number; size: number } | undefined {
    return this.c
      .sql<{ id: number; size: number }>("SELECT id, size FROM contents WHERE sha256 = ?")
      .get(sha256);
  }

  /** A content's chunks in order; hex made by SQLite, which costs a third of converting each row's bytes here. */
  private chunksOf(contentId: number): ChunkRef[] {
    return this.c
      .sql<ChunkRef>(
        "SELECT lower(hex(hash)) AS hash, length FROM content_chunks WHERE content_id = ? ORDER BY ord",
      )
      .all(contentId);
  }

  hasContent(sha256: string): Promise<boolean> {
    return this.c.read(`cannot read content ${sha256}`, () => {
      const row = this.c
        .sql<{ missing: number }>(
          `SELECT (SELECT count(*) FROM content_chunks cc WHERE cc.content_id = c.id
                   AND NOT EXISTS (SELECT 1 FROM chunks k WHERE k.hash = cc.hash)) AS missing
           FROM contents c WHERE c.sha256 = ?`,
        )
        .get(sha256);
      return row !== undefined && row.missing === 0;
    });
  }

  locateChunks(hashes: string[]): Promise<Map<string, ChunkLocation>> {
    return this.c.read("cannot locate chunks", () => {
      const found = new Map<string, ChunkLocation>();
      for (const batch of batches([...new Set(hashes)])) {
        const rows = this.c
          .sql<LocationRow>(
            `SELECT c.hash, p.key, c.offset, c.length FROM chunks c JOIN packs p ON p.id = c.pack_id
             WHERE c.hash IN (${placeholders(batch.length)})`,
          )
          .all(...batch.map(bin));
        for (const r of rows) {
          const h = hex(r.hash);
          found.set(h, { hash: h, pack: r.key, offset: r.offset, length: r.length });
        }
      }
      return found;
    });
  }

  async *listContents(): AsyncIterable<ContentRecord> {
    const ids = await this.c.read("cannot list contents", () =>
      this.c.sql<{ sha256: string }>("SELECT sha256 FROM contents ORDER BY id").all(),
    );
    for (const { sha256 } of ids) {
      const content = await this.getContent(sha256);
      if (content) yield content;
    }
  }

  listPacks(): Promise<PackRecord[]> {
    return this.c.read("cannot list packs", () =>
      this.c
        .sql<{ key: string; size: number; chunk_count: number; created_at: string }>(
          "SELECT key, size, chunk_count, created_at FROM packs ORDER BY id",
        )
        .all()
        .map((r) => ({ key: r.key, size: r.size, chunkCount: r.chunk_count, createdAt: r.created_at })),
    );
  }

  packChunks(key: string): Promise<ChunkLocation[]> {
    return this.c.read(`cannot list the chunks of ${key}`, () =>
      this.c
        .sql<LocationRow>(
          `SELECT c.hash, p.key, c.offset, c.length FROM chunks c JOIN packs p ON p.id = c.pack_id
           WHERE p.key = ? ORDER BY c.offset`,
        )
        .all(key)
        .map((r) => ({ hash: hex(r.hash), pack: r.key, offset: r.offset, length: r.length })),
    );
  }

  sweep(options: { deadSessionIds: string[]; dryRun: boolean }): ReturnType<ChunkIndex["sweep"]> {
    return this.c.write("cannot collect garbage", () => {
      const { db } = this.c;
      db.exec(`
        CREATE TEMP TABLE IF NOT EXISTS gc_dead_sessions (id TEXT PRIMARY KEY);
        CREATE TEMP TABLE IF NOT EXISTS gc_dead_contents (id INTEGER PRIMARY KEY);
        CREATE TEMP TABLE IF NOT EXISTS gc_dead_chunks (hash BLOB PRIMARY KEY, length INTEGER);
        DELETE FROM gc_dead_sessions; DELETE FROM gc_dead_contents; DELETE FROM gc_dead_chunks;
      `);
      const dead = db.prepare("INSERT OR IGNORE INTO gc_dead_sessions (id) VALUES (?)");
      for (const id of options.deadSessionIds) dead.run(id);
      // Every session not known to be dead counts, also one that began after the caller listed the sessions.
      const claimed = `EXISTS (SELECT 1 FROM claims cl WHERE cl.hash = % AND cl.session_id NOT IN (SELECT id FROM gc_dead_sessions))`;
      // Pushes claim whole packs (those they write, and those holding their dedup hits): all of it is kept.
      const inClaimedPack = `k.pack_id IN (SELECT pc.pack_id FROM pack_claims pc
                             WHERE pc.session_id NOT IN (SELECT id FROM gc_dead_sessions))`;
      db.prepare(
        `INSERT INTO gc_dead_contents (id) SELECT c.id FROM contents c
         WHERE c.sha256 NOT IN (SELECT sha256 FROM live_content) AND NOT ${claimed.replace("%", "unhex(c.sha256)")}`,
      ).run();
      db.prepare(
        `INSERT INTO gc_dead_chunks (hash, length) SELECT k.hash, k.length FROM chunks k
         WHERE NOT EXISTS (SELECT 1 FROM content_chunks cc WHERE cc.hash = k.hash
                           AND cc.content_id NOT IN (SELECT id FROM gc_dead_contents))
           AND NOT ${claimed.replace("%", "k.hash")} AND NOT ${inClaimedPack}`,
      ).run();
      const contentsRemoved = (
        db.prepare("SELECT count(*) AS n FROM gc_dead_contents").get() as { n: number }
      ).n;
      const removed = db
        .prepare("SELECT count(*) AS n, coalesce(sum(length), 0) AS bytes FROM gc_dead_chunks")
        .get() as { n: number; bytes: number };
      const packs = db
        .prepare(
          `SELECT p.key, p.size, p.chunk_count AS chunkCount,
                  coalesce(sum(k.length), 0) AS liveBytes, count(k.hash) AS liveChunks
           FROM packs p LEFT JOIN chunks k ON k.pack_id = p.id AND k.hash NOT IN (SELECT hash FROM gc_dead_chunks)
           GROUP BY p.id ORDER BY p.id`,
        )
        .all() as PackUsage[];
      if (!options.dryRun) {
        db.exec(`
          DELETE FROM upload_sessions WHERE id IN (SELECT id FROM gc_dead_sessions);
          DELETE FROM contents WHERE id IN (SELECT id FROM gc_dead_contents);
          DELETE FROM chunks WHERE hash IN (SELECT hash FROM gc_dead_chunks);
        `);
      }
      return { contentsRemoved, chunksRemoved: removed.n, bytesRemoved: removed.bytes, packs };
    });
  }

  replacePack(oldKey: string, pack: PackRecord | null, chunks: ChunkLocation[]): Promise<void> {
    return this.c.write(`cannot replace pack ${oldKey}`, () => {
      const old = this.c.sql<{ id: number }>("SELECT id FROM packs WHERE key = ?").get(oldKey);
      let newId: number | null = null;
      if (pack) {
        newId = this.c
          .sql<{ id: number }>(
            "INSERT INTO packs (key, size, chunk_count, created_at) VALUES (?, ?, ?, ?) RETURNING id",
          )
          .get(pack.key, pack.size, pack.chunkCount, pack.createdAt)!.id;
        // The copy inherits the old pack's claims: a push in flight keeps its chunks through a rewrite.
        if (old) {
          this.c
            .sql(
              "INSERT OR IGNORE INTO pack_claims (session_id, pack_id) SELECT session_id, ? FROM pack_claims WHERE pack_id = ?",
            )
            .run(newId, old.id);
        }
        const move = this.c.sql("UPDATE chunks SET pack_id = ?, offset = ?, length = ? WHERE hash = ?");
        for (const chunk of chunks) move.run(newId, chunk.offset, chunk.length, bin(chunk.hash));
      }
      if (old) {
        // Whatever was not moved is garbage by now (the sweep left only live and claimed chunks, all moved).
        this.c.sql("DELETE FROM chunks WHERE pack_id = ?").run(old.id);
        this.c.sql("DELETE FROM packs WHERE id = ?").run(old.id);
      }
    });
  }

  stats(artifact?: string): Promise<StorageStats[]> {
    return this.c.read("cannot compute statistics", () => {
      const filter = artifact === undefined ? "" : "WHERE a.name = ?";
      const args = artifact === undefined ? [] : [artifact];
      const perArtifact = this.c
        .sql<{ artifact: string; versions: number; files: number; logicalBytes: number }>(
          `SELECT a.name AS artifact, count(DISTINCT v.id) AS versions, count(f.path) AS files,
                  coalesce(sum(f.size), 0) AS logicalBytes
           FROM artifacts a JOIN versions v ON v.artifact_id = a.id JOIN version_files f ON f.version_id = v.id
           ${filter} GROUP BY a.id ORDER BY a.name`,
        )
        .all(...args);
      const stored = this.c.sql<{ bytes: number }>(
        `SELECT coalesce(sum(length), 0) AS bytes FROM (
           SELECT DISTINCT cc.hash, cc.length FROM artifacts a
           JOIN versions v ON v.artifact_id = a.id JOIN version_files f ON f.version_id = v.id
           JOIN contents c ON c.sha256 = f.sha256 JOIN content_chunks cc ON cc.content_id = c.id
           WHERE a.name = ?)`,
      );
      const rows: StorageStats[] = perArtifact.map((r) => ({
        ...r,
        storedBytes: stored.get(r.artifact)!.bytes,
      }));
      const overallStored = this.c
        .sql<{ bytes: number }>(
          `SELECT coalesce(sum(length), 0) AS bytes FROM (
             SELECT DISTINCT cc.hash, cc.length FROM version_files f
             JOIN contents c ON c.sha256 = f.sha256 JOIN content_chunks cc ON cc.content_id = c.id)`,
        )
        .get()!.bytes;
      // The whole store's row comes with one artifact's too: `cairn stats NAME` shows it against the total.
      const totals = this.c
        .sql<{ versions: number; files: number; logicalBytes: number }>(
          `SELECT count(DISTINCT f.version_id) AS versions, count(f.path) AS files,
                  coalesce(sum(f.size), 0) AS logicalBytes FROM version_files f`,
        )
        .get()!;
      rows.push({ artifact: null, ...totals, storedBytes: overallStored });
      return rows;
    });
  }

  packBytes(): Promise<number> {
    return this.c.read(
      "cannot compute statistics",
      () => this.c.sql<{ bytes: number }>("SELECT coalesce(sum(size), 0) AS bytes FROM packs").get()!.bytes,
    );
  }

  filesUsingChunks(hashes: string[]): Promise<Array<{ artifact: string; version: string; path: string }>> {
    return this.c.read("cannot find the files that use chunks", () => {
      const seen = new Map<string, { artifact: string; version: string; path: string }>();
      for (const batch of batches([...new Set(hashes)])) {
        const rows = this.c
          .sql<{ artifact: string; version: string; path: string }>(
            `SELECT DISTINCT a.name AS artifact, v.version, f.path FROM content_chunks cc
             JOIN contents c ON c.id = cc.content_id JOIN version_files f ON f.sha256 = c.sha256
             JOIN versions v ON v.id = f.version_id JOIN artifacts a ON a.id = v.artifact_id
             WHERE cc.hash IN (${placeholders(batch.length)})`,
          )
          .all(...batch.map(bin));
        for (const r of rows) seen.set(`${r.artifact}@${r.version}:${r.path}`, r);
      }
      return [...seen.values()].sort((x, y) =>
        `${x.artifact}@${x.version}:${x.path}`.localeCompare(`${y.artifact}@${y.version}:${y.path}`),
      );
    });
  }

  rebuildIndex(packs: Array<{ pack: PackRecord; chunks: ChunkLocation[] }>): Promise<void> {
    return this.c.write("cannot rebuild the chunk index", () => {
      this.c.db.exec("DELETE FROM chunks; DELETE FROM packs;");
      const insertPack = this.c.sql<{ id: number }>(
        "INSERT INTO packs (key, size, chunk_count, created_at) VALUES (?, ?, ?, ?) RETURNING id",
      );
      const insertChunk = this.c.sql(
        "INSERT OR IGNORE INTO chunks (hash, pack_id, offset, length) VALUES (?, ?, ?, ?)",
      );
      for (const { pack, chunks } of packs) {
        const { id } = insertPack.get(pack.key, pack.size, pack.chunkCount, pack.createdAt)!;
        for (const chunk of chunks) insertChunk.run(bin(chunk.hash), id, chunk.offset, chunk.length);
      }
    });
  }
}
