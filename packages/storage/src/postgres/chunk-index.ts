/**
 * @module The chunk store's index in PostgreSQL, in the same database as the versions. SQLite gets its safety
 * from one write lock; here an advisory lock stands in for it where it matters: a garbage-collection sweep
 * holds it exclusively, and everything that could make a chunk live (claims, new packs and contents, the end
 * of a session, a version commit) holds it shared. Those run side by side but never during a sweep, so a
 * sweep sees each of them wholly done or not begun — across every server process.
 */
import { pipeline } from "node:stream/promises";
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
import { loadCopyStreams } from "./_copy.js";
import type { Database, Sql } from "./_database.js";
import { GC_LOCK_EXCLUSIVE, GC_LOCK_SHARED } from "./_locks.js";

const bin = (hex: string): Buffer => Buffer.from(hex, "hex");
/** Distinct hashes as bytea, sorted: writers that touch the same rows take their locks in one order. */
const sortedBins = (hashes: readonly string[]): Buffer[] => [...new Set(hashes)].sort().map(bin);
// Hashes per statement of a lookup: one array parameter, well inside what a statement may carry.
const LOOKUP_BATCH = 10_000;
// Contents per page when listing them all.
const LIST_PAGE = 500;

function* batches<T>(items: readonly T[], size = LOOKUP_BATCH): Iterable<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

interface LocationRow {
  hash: string;
  key: string;
  offset: number;
  length: number;
}

interface ContentRow {
  id: number;
  sha256: string;
  size: number;
  hashes: string[];
  lengths: number[];
}

/** A content with its ordered chunks (hex hashes, int lengths: arrays of bigint would arrive as strings). */
const CONTENT_SELECT = `
  SELECT c.id, c.sha256, c.size,
         coalesce(array_agg(encode(cc.hash, 'hex') ORDER BY cc.ord) FILTER (WHERE cc.hash IS NOT NULL), '{}') AS hashes,
         coalesce(array_agg(cc.length::integer ORDER BY cc.ord) FILTER (WHERE cc.hash IS NOT NULL), '{}') AS lengths
  FROM contents c LEFT JOIN content_chunks cc ON cc.content_id = c.id`;

const toContent = (row: ContentRow): ContentRecord => ({
  sha256: row.sha256,
  size: row.size,
  chunks: row.hashes.map((hash, i) => ({ hash, length: row.lengths[i]! })),
});

async function insertPack(sql: Sql, pack: PackRecord): Promise<number> {
  const row = await sql.maybe<{ id: number }>(
    "INSERT INTO packs (key, size, chunk_count, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    [pack.key, pack.size, pack.chunkCount, pack.createdAt],
  );
  return row!.id;
}

/**
 * Session `sessionId` claims the packs that hold `hashes` (sorted, as bytea), and, with `written`, that pack
 * too; returns the hashes found. One statement: the lookup and the claims commit together. Pack claims are
 * taken in pack id order, so two writers never wait on each other's in opposite orders.
 */
async function claimPacks(
  sql: Sql,
  sessionId: string,
  hashes: readonly Buffer[],
  written: number | null = null,
): Promise<string[]> {
  const rows = await sql.rows<{ hash: string }>(
    `WITH stored AS (SELECT hash, pack_id FROM chunks WHERE hash = ANY($2::bytea[])),
          claimed AS (INSERT INTO pack_claims (session_id, pack_id)
                      SELECT $1, pack_id FROM (SELECT pack_id FROM stored UNION SELECT $3::bigint WHERE $3::bigint IS NOT NULL) p
                      ORDER BY pack_id ON CONFLICT DO NOTHING)
     SELECT encode(hash, 'hex') AS hash FROM stored`,
    [sessionId, hashes, written],
  );
  return rows.map((r) => r.hash);
}

/** Indexes a pack's chunks in one statement; a chunk already indexed elsewhere keeps its first location. */
async function insertChunks(sql: Sql, packId: number, chunks: readonly ChunkLocation[]): Promise<void> {
  if (chunks.length === 0) return;
  const sorted = [...chunks].sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
  await sql.run(
    `INSERT INTO chunks (hash, pack_id, "offset", length)
     SELECT c.hash, $1, c.off, c.len FROM unnest($2::bytea[], $3::bigint[], $4::bigint[]) AS c (hash, off, len)
     ON CONFLICT (hash) DO NOTHING`,
    [packId, sorted.map((c) => bin(c.hash)), sorted.map((c) => c.offset), sorted.map((c) => c.length)],
  );
}

export class PostgresChunkIndex implements ChunkIndex {
  private readonly db: Database;

  constructor(db: Database) {
    this.db = db;
  }

  async touchSession(session: UploadSession): Promise<void> {
    await this.db.query(
      "cannot record the upload session",
      `INSERT INTO upload_sessions (id, host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
      [session.id, session.host, session.pid, session.startedAt, session.heartbeatAt],
    );
  }

  claimChunks(sessionId: string, hashes: string[]): Promise<Set<string>> {
    return this.db.write("cannot claim chunks", async (sql) => {
      await sql.run(GC_LOCK_SHARED);
      const found = new Set<string>();
      for (const batch of batches(sortedBins(hashes))) {
        // Finds what is stored and claims each pack holding a hit (a batch's hits lie in a few), after taking
        // the lock: a sweep either finished before (and this sees what it left) or starts after this commits
        // (and sees the claims). Nothing moves a chunk to another pack but a sweep's rewrite, which waits.
        for (const hash of await claimPacks(sql, sessionId, batch)) found.add(hash);
      }
      return found;
    });
  }

  async endSession(sessionId: string): Promise<void> {
    await this.db.write("cannot end the upload session", async (sql) => {
      await sql.run(GC_LOCK_SHARED);
      await sql.run("DELETE FROM upload_sessions WHERE id = $1", [sessionId]);
    });
  }

  async listSessions(): Promise<UploadSession[]> {
    const rows = await this.db.query<SessionRow>(
      "cannot list upload sessions",
      `${SESSION_SELECT} ORDER BY started_at`,
    );
    return rows.map(toSession);
  }

  async getSession(id: string): Promise<UploadSession | null> {
    const [row] = await this.db.query<SessionRow>(
      `cannot read upload session ${id}`,
      `${SESSION_SELECT} WHERE id = $1`,
      [id],
    );
    return row === undefined ? null : toSession(row);
  }

  async addPack(pack: PackRecord, chunks: ChunkLocation[], sessionId: string): Promise<void> {
    await this.db.write(`cannot index pack ${pack.key}`, async (sql) => {
      await sql.run(GC_LOCK_SHARED);
      const packId = await insertPack(sql, pack);
      await insertChunks(sql, packId, chunks);
      // The session claims the pack it wrote, and the packs that got one of its chunks first (another push
      // wrote it meanwhile): those must stay too. Having waited for any writer of the same rows, this
      // statement sees where each chunk ended up.
      await claimPacks(sql, sessionId, sortedBins(chunks.map((c) => c.hash)), packId);
    });
  }

  async putContent(sessionId: string, content: ContentRecord): Promise<void> {
    await this.db.write(`cannot record content ${content.sha256}`, async (sql) => {
      await sql.run(GC_LOCK_SHARED);
      await sql.run("INSERT INTO claims (session_id, hash) VALUES ($1, $2) ON CONFLICT DO NOTHING", [
        sessionId,
        bin(content.sha256),
      ]);
      // Another writer recording the same content first makes this one wait, then do nothing.
      const created = await sql.maybe<{ id: number }>(
        `INSERT INTO contents (sha256, size, chunk_count, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (sha256) DO NOTHING RETURNING id`,
        [content.sha256, content.size, content.chunks.length, new Date().toISOString()],
      );
      if (created === undefined || content.chunks.length === 0) return;
      await sql.run(
        `INSERT INTO content_chunks (content_id, ord, hash, length)
         SELECT $1, c.ord - 1, c.hash, c.len FROM unnest($2::bytea[], $3::bigint[]) WITH ORDINALITY AS c (hash, len, ord)`,
        [created.id, content.chunks.map((c) => bin(c.hash)), content.chunks.map((c) => c.length)],
      );
    });
  }

  claimContent(sessionId: string, sha256: string): Promise<ClaimedContent | null> {
    return this.db.write(`cannot claim content ${sha256}`, async (sql) => {
      await sql.run(GC_LOCK_SHARED); // a sweep sees the claim, or has finished and this sees what it left
      const row = await sql.maybe<ContentRow>(`${CONTENT_SELECT} WHERE c.sha256 = $1 GROUP BY c.id`, [
        sha256,
      ]);
      if (row === undefined) return null;
      await sql.run("INSERT INTO claims (session_id, hash) VALUES ($1, $2) ON CONFLICT DO NOTHING", [
        sessionId,
        bin(sha256),
      ]);
      const content = toContent(row);
      const stored = new Set(content.chunks.map((c) => c.hash));
      const missing = await sql.rows<{ hash: string }>(
        `SELECT encode(cc.hash, 'hex') AS hash FROM content_chunks cc
         WHERE cc.content_id = $1 AND NOT EXISTS (SELECT 1 FROM chunks k WHERE k.hash = cc.hash)`,
        [row.id],
      );
      for (const { hash } of missing) stored.delete(hash);
      return { ...content, stored };
    });
  }

  async getContent(sha256: string): Promise<ContentRecord | null> {
    const [row] = await this.db.query<ContentRow>(
      `cannot read content ${sha256}`,
      `${CONTENT_SELECT} WHERE c.sha256 = $1 GROUP BY c.id`,
      [sha256],
    );
    return row === undefined ? null : toContent(row);
  }

  async findContent(size: number, chunks: readonly ChunkRef[]): Promise<string | null> {
    if (chunks.length === 0) return null;
    // Contents that begin with the same chunk and are as long: then the whole lists are compared.
    const rows = await this.db.query<ContentRow>(
      "cannot look content up by its chunks",
      `${CONTENT_SELECT}
       WHERE c.id IN (SELECT cc0.content_id FROM content_chunks cc0 WHERE cc0.hash = $1 AND cc0.ord = 0)
         AND c.size = $2 AND c.chunk_count = $3
       GROUP BY c.id`,
      [bin(chunks[0]!.hash), size, chunks.length],
    );
    return rows.find((row) => sameChunks(toContent(row).chunks, chunks))?.sha256 ?? null;
  }

  async hasContent(sha256: string): Promise<boolean> {
    const [row] = await this.db.query<{ missing: boolean }>(
      `cannot read content ${sha256}`,
      `SELECT EXISTS (SELECT 1 FROM content_chunks cc WHERE cc.content_id = c.id
                      AND NOT EXISTS (SELECT 1 FROM chunks k WHERE k.hash = cc.hash)) AS missing
       FROM contents c WHERE c.sha256 = $1`,
      [sha256],
    );
    return row !== undefined && !row.missing;
  }

  async locateChunks(hashes: string[]): Promise<Map<string, ChunkLocation>> {
    const found = new Map<string, ChunkLocation>();
    for (const batch of batches(sortedBins(hashes))) {
      const rows = await this.db.query<LocationRow>(
        "cannot locate chunks",
        `SELECT encode(c.hash, 'hex') AS hash, p.key, c."offset", c.length FROM chunks c JOIN packs p ON p.id = c.pack_id
         WHERE c.hash = ANY($1::bytea[])`,
        [batch],
      );
      for (const r of rows)
        found.set(r.hash, { hash: r.hash, pack: r.key, offset: r.offset, length: r.length });
    }
    return found;
  }

  /** Every content, a page at a time (each page one statement), in the order they were recorded. */
  async *listContents(): AsyncIterable<ContentRecord> {
    let after = 0;
    for (;;) {
      const rows = await this.db.query<ContentRow>(
        "cannot list contents",
        `${CONTENT_SELECT} WHERE c.id > $1 GROUP BY c.id ORDER BY c.id LIMIT $2`,
        [after, LIST_PAGE],
      );
      for (const row of rows) yield toContent(row);
      if (rows.length < LIST_PAGE) return;
      after = rows.at(-1)!.id;
    }
  }

  async listPacks(): Promise<PackRecord[]> {
    const rows = await this.db.query<{ key: string; size: number; chunk_count: number; created_at: string }>(
      "cannot list packs",
      "SELECT key, size, chunk_count, created_at FROM packs ORDER BY id",
    );
    return rows.map((r) => ({
      key: r.key,
      size: r.size,
      chunkCount: r.chunk_count,
      createdAt: r.created_at,
    }));
  }

  async packChunks(key: string): Promise<ChunkLocation[]> {
    const rows = await this.db.query<LocationRow>(
      `cannot list the chunks of ${key}`,
      `SELECT encode(c.hash, 'hex') AS hash, p.key, c."offset", c.length FROM chunks c JOIN packs p ON p.id = c.pack_id
       WHERE p.key = $1 ORDER BY c."offset"`,
      [key],
    );
    return rows.map((r) => ({ hash: r.hash, pack: r.key, offset: r.offset, length: r.length }));
  }

  sweep(options: { deadSessionIds: string[]; dryRun: boolean }): ReturnType<ChunkIndex["sweep"]> {
    return this.db.write("cannot collect garbage", async (sql) => {
      await sql.run(GC_LOCK_EXCLUSIVE);
      const dead = [...new Set(options.deadSessionIds)];
      await sql.exec(`
        CREATE TEMP TABLE gc_dead_contents (id bigint PRIMARY KEY) ON COMMIT DROP;
        CREATE TEMP TABLE gc_dead_chunks (hash bytea PRIMARY KEY, length bigint NOT NULL) ON COMMIT DROP;
      `);
      // Every session not known to be dead counts, also one that began after the caller listed the sessions.
      const claimed = (hash: string) =>
        `EXISTS (SELECT 1 FROM claims cl WHERE cl.hash = ${hash} AND cl.session_id <> ALL($1::text[]))`;
      // Pushes claim whole packs (those they write, and those holding their dedup hits): all of it is kept.
      const inClaimedPack = `EXISTS (SELECT 1 FROM pack_claims pc
                                     WHERE pc.pack_id = k.pack_id AND pc.session_id <> ALL($1::text[]))`;
      await sql.run(
        `INSERT INTO gc_dead_contents (id) SELECT c.id FROM contents c
         WHERE NOT EXISTS (SELECT 1 FROM live_content l WHERE l.sha256 = c.sha256)
           AND NOT ${claimed("decode(c.sha256, 'hex')")}`,
        [dead],
      );
      await sql.run(
        `INSERT INTO gc_dead_chunks (hash, length) SELECT k.hash, k.length FROM chunks k
         WHERE NOT EXISTS (SELECT 1 FROM content_chunks cc WHERE cc.hash = k.hash
                           AND NOT EXISTS (SELECT 1 FROM gc_dead_contents d WHERE d.id = cc.content_id))
           AND NOT ${claimed("k.hash")} AND NOT ${inClaimedPack}`,
        [dead],
      );
      const contents = await sql.maybe<{ n: number }>("SELECT count(*) AS n FROM gc_dead_contents");
      const removed = await sql.maybe<{ n: number; bytes: number }>(
        "SELECT count(*) AS n, coalesce(sum(length), 0)::bigint AS bytes FROM gc_dead_chunks",
      );
      const packs = await sql.rows<PackUsage>(
        `SELECT p.key, p.size, p.chunk_count AS "chunkCount",
                coalesce(sum(k.length), 0)::bigint AS "liveBytes", count(k.hash) AS "liveChunks"
         FROM packs p LEFT JOIN chunks k ON k.pack_id = p.id
           AND NOT EXISTS (SELECT 1 FROM gc_dead_chunks d WHERE d.hash = k.hash)
         GROUP BY p.id ORDER BY p.id`,
      );
      if (!options.dryRun) {
        await sql.run("DELETE FROM upload_sessions WHERE id = ANY($1::text[])", [dead]);
        await sql.run("DELETE FROM contents WHERE id IN (SELECT id FROM gc_dead_contents)");
        await sql.run("DELETE FROM chunks WHERE hash IN (SELECT hash FROM gc_dead_chunks)");
      }
      return {
        contentsRemoved: contents!.n,
        chunksRemoved: removed!.n,
        bytesRemoved: removed!.bytes,
        packs,
      };
    });
  }

  async replacePack(oldKey: string, pack: PackRecord | null, chunks: ChunkLocation[]): Promise<void> {
    await this.db.write(`cannot replace pack ${oldKey}`, async (sql) => {
      // Part of garbage collection: nothing else touches the index meanwhile, as under SQLite's write lock.
      await sql.run(GC_LOCK_EXCLUSIVE);
      const old = await sql.maybe<{ id: number }>("SELECT id FROM packs WHERE key = $1", [oldKey]);
      if (pack) {
        const newId = await insertPack(sql, pack);
        // The copy inherits the old pack's claims: a push in flight keeps its chunks through a rewrite.
        if (old) {
          await sql.run(
            "INSERT INTO pack_claims (session_id, pack_id) SELECT session_id, $1 FROM pack_claims WHERE pack_id = $2",
            [newId, old.id],
          );
        }
        if (chunks.length > 0) {
          await sql.run(
            `UPDATE chunks k SET pack_id = $1, "offset" = m.off, length = m.len
             FROM unnest($2::bytea[], $3::bigint[], $4::bigint[]) AS m (hash, off, len) WHERE k.hash = m.hash`,
            [newId, chunks.map((c) => bin(c.hash)), chunks.map((c) => c.offset), chunks.map((c) => c.length)],
          );
        }
      }
      if (old) {
        // Whatever was not moved is garbage by now (the sweep left only live and claimed chunks, all moved).
        await sql.run("DELETE FROM chunks WHERE pack_id = $1", [old.id]);
        await sql.run("DELETE FROM packs WHERE id = $1", [old.id]);
      }
    });
  }

  async stats(artifact?: string): Promise<StorageStats[]> {
    return this.db.read("cannot compute statistics", async (sql) => {
      const filter = artifact === undefined ? "" : "WHERE a.name = $1";
      const args = artifact === undefined ? [] : [artifact];
      const perArtifact = await sql.rows<{
        artifact: string;
        versions: number;
        files: number;
        logicalBytes: number;
      }>(
        `SELECT a.name AS artifact, count(DISTINCT v.id) AS versions, count(f.path) AS files,
                coalesce(sum(f.size), 0)::bigint AS "logicalBytes"
         FROM artifacts a JOIN versions v ON v.artifact_id = a.id JOIN version_files f ON f.version_id = v.id
         ${filter} GROUP BY a.id ORDER BY a.name`,
        args,
      );
      const storedRows = await sql.rows<{ artifact: string; bytes: number }>(
        `SELECT artifact, coalesce(sum(length), 0)::bigint AS bytes FROM (
           SELECT DISTINCT a.name AS artifact, cc.hash, cc.length FROM artifacts a
           JOIN versions v ON v.artifact_id = a.id JOIN version_files f ON f.version_id = v.id
           JOIN contents c ON c.sha256 = f.sha256 JOIN content_chunks cc ON cc.content_id = c.id
           ${filter}) s GROUP BY artifact`,
        args,
      );
      const stored = new Map(storedRows.map((r) => [r.artifact, r.bytes]));
      const rows: StorageStats[] = perArtifact.map((r) => ({
        ...r,
        storedBytes: stored.get(r.artifact) ?? 0,
      }));
      // The whole store's row comes with one artifact's too: `cairn stats NAME` shows it against the total.
      const totals = await sql.maybe<{
        versions: number;
        files: number;
        logicalBytes: number;
        storedBytes: number;
      }>(
        `SELECT count(DISTINCT f.version_id) AS versions, count(f.path) AS files,
                coalesce(sum(f.size), 0)::bigint AS "logicalBytes",
                (SELECT coalesce(sum(length), 0)::bigint FROM (
                   SELECT DISTINCT cc.hash, cc.length FROM version_files f
                   JOIN contents c ON c.sha256 = f.sha256 JOIN content_chunks cc ON cc.content_id = c.id) s) AS "storedBytes"
         FROM version_files f`,
      );
      rows.push({ artifact: null, ...totals! });
      return rows;
    });
  }

  async packBytes(): Promise<number> {
    const [row] = await this.db.query<{ bytes: number }>(
      "cannot compute statistics",
      "SELECT coalesce(sum(size), 0)::bigint AS bytes FROM packs",
    );
    return row!.bytes;
  }

  async filesUsingChunks(
    hashes: string[],
  ): Promise<Array<{ artifact: string; version: string; path: string }>> {
    const seen = new Map<string, { artifact: string; version: string; path: string }>();
    for (const batch of batches(sortedBins(hashes))) {
      const rows = await this.db.query<{ artifact: string; version: string; path: string }>(
        "cannot find the files that use chunks",
        `SELECT DISTINCT a.name AS artifact, v.version, f.path FROM content_chunks cc
         JOIN contents c ON c.id = cc.content_id JOIN version_files f ON f.sha256 = c.sha256
         JOIN versions v ON v.id = f.version_id JOIN artifacts a ON a.id = v.artifact_id
         WHERE cc.hash = ANY($1::bytea[])`,
        [batch],
      );
      for (const r of rows) seen.set(`${r.artifact}@${r.version}:${r.path}`, r);
    }
    return [...seen.values()].sort((x, y) =>
      `${x.artifact}@${x.version}:${x.path}`.localeCompare(`${y.artifact}@${y.version}:${y.path}`),
    );
  }

  /**
   * Replaces the whole index in one transaction. The chunk rows, possibly millions, go in through COPY into a
   * staging table; a chunk found in several packs keeps its location in the first.
   */
  async rebuildIndex(packs: Array<{ pack: PackRecord; chunks: ChunkLocation[] }>): Promise<void> {
    const { from: copyFrom } = await loadCopyStreams();
    await this.db.write("cannot rebuild the chunk index", async (sql) => {
      await sql.run(GC_LOCK_EXCLUSIVE);
      await sql.exec(`
        DELETE FROM chunks; DELETE FROM packs;
        CREATE TEMP TABLE rebuild_chunks (n bigint, hash text, pack_id bigint, "offset" bigint, length bigint)
          ON COMMIT DROP;
      `);
      await sql.run(
        `INSERT INTO packs (key, size, chunk_count, created_at)
         SELECT p.key, p.size, p.chunk_count, p.created_at
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[]) AS p (key, size, chunk_count, created_at)`,
        [
          packs.map((p) => p.pack.key),
          packs.map((p) => p.pack.size),
          packs.map((p) => p.pack.chunkCount),
          packs.map((p) => p.pack.createdAt),
        ],
      );
      const packId = new Map(
        (await sql.rows<{ id: number; key: string }>("SELECT id, key FROM packs")).map((r) => [r.key, r.id]),
      );
      // COPY's text format, a few thousand rows per write; n keeps the packs' order for "first location wins".
      function* lines(): Iterable<string> {
        let n = 0;
        let text = "";
        for (const { pack, chunks } of packs) {
          const id = packId.get(pack.key)!;
          for (const c of chunks) {
            text += `${n++}\t${c.hash}\t${id}\t${c.offset}\t${c.length}\n`;
            if (text.length >= 256 * 1024) {
              yield text;
              text = "";
            }
          }
        }
        if (text.length > 0) yield text;
      }
      await pipeline(lines, sql.client.query(copyFrom("COPY rebuild_chunks FROM STDIN")));
      await sql.run(
        `INSERT INTO chunks (hash, pack_id, "offset", length)
         SELECT DISTINCT ON (hash) decode(hash, 'hex'), pack_id, "offset", length FROM rebuild_chunks ORDER BY hash, n`,
      );
    });
  }
}
