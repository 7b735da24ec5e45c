/**
 * @module Keeping the chunk store healthy: garbage collection (mark and sweep, online), full verification
 * that names the damaged files, and rebuilding the chunk index from the packs alone.
 */
import {
  type ChunkLocation,
  type GcReport,
  isCairnError,
  liveSessions,
  type PackRecord,
  planPacks,
} from "@cairn/core";
import { chunkHash } from "../chunking/index.js";
import { thisMachine } from "../this-machine.js";
import { type ChunkStore, PACK_PREFIX, sessionOfPack } from "./chunk-store.js";
import { readAll, readPackTable } from "./pack-format.js";
import { PackWriter } from "./pack-writer.js";

// Leftovers of interrupted blob writes are swept when older than this while other pushes are running.
const TEMP_GRACE_MS = 60 * 60_000;

export type { GcReport } from "@cairn/core";

export interface GcOptions {
  dryRun?: boolean;
  /** Rewrite packs whose live fraction falls below this (default 0.5). */
  rewriteBelow?: number;
}

/**
 * Mark and sweep from every live version. Safe while pushes run: chunks claimed by a live session are kept,
 * and the sweep and every version commit serialise on the metadata database.
 */
export async function collectGarbage(store: ChunkStore, options: GcOptions = {}): Promise<GcReport> {
  const dryRun = options.dryRun ?? false;
  const { index, blobs } = store;
  const own = await store.sessionId();
  // Only sessions seen and judged dead lose their claims: a push that starts after this look keeps its own.
  const lookedAt = Date.now();
  const sessions = await index.listSessions();
  const alive = new Set(liveSessions(sessions, new Date(lookedAt), thisMachine()).map((s) => s.id));
  alive.add(own);
  const dead = new Set(sessions.filter((s) => !alive.has(s.id)).map((s) => s.id));
  const indexedBytes = await index.packBytes();
  const swept = await index.sweep({ deadSessionIds: [...dead], dryRun });
  const plan = planPacks(swept.packs, options.rewriteBelow);
  const orphans = await findOrphanPacks(store, dead);
  const orphanBytes = orphans.reduce((n, o) => n + o.size, 0);
  // Orphans are on disk too: counting them keeps before − reclaimed = after.
  const packBytesBefore = indexedBytes + orphanBytes;
  let bytesReclaimed = plan.reclaimBytes + orphanBytes;

  if (!dryRun) {
    for (const pack of plan.remove) {
      await index.replacePack(pack.key, null, []);
      await deleteQuietly(store, pack.key);
    }
    for (const pack of plan.rewrite) {
      // The plan estimated size − live bytes; correct it by what the rewrite actually left behind.
      const left = await rewritePack(store, own, pack.key, pack.size);
      bytesReclaimed += pack.liveBytes - left;
    }
    for (const orphan of orphans) await deleteQuietly(store, orphan.key);
    const sweepTemp = (blobs as { sweepTemp?: (olderThanMs: number) => Promise<number> }).sweepTemp;
    // With no other push alive when we looked, a temporary object last written before then is an orphan of a
    // crash (a push starting later writes later); the second of slack covers coarse file-system clocks.
    const grace = alive.size === 1 ? Date.now() - lookedAt + 1000 : TEMP_GRACE_MS;
    if (sweepTemp) await sweepTemp.call(blobs, grace);
  }
  return {
    dryRun,
    liveSessions: alive.size - 1,
    contentsRemoved: swept.contentsRemoved,
    chunksRemoved: swept.chunksRemoved,
    packsRemoved: plan.remove.length,
    packsRewritten: plan.rewrite.length,
    orphanPacksRemoved: orphans.length,
    bytesReclaimed,
    packBytesBefore,
    packBytesAfter: dryRun ? packBytesBefore - bytesReclaimed : await index.packBytes(),
  };
}

/**
 * Pack objects the index does not know and no running push is writing. The objects are listed first, the
 * sessions and the index read after: a push renames its pack into place before indexing it, and its session
 * exists before its first pack, so a pack that is listed but not yet indexed always shows its session here.
 */
async function findOrphanPacks(
  store: ChunkStore,
  dead: ReadonlySet<string>,
): Promise<Array<{ key: string; size: number }>> {
  const listed: Array<{ key: string; size: number }> = [];
  for await (const blob of store.blobs.list(PACK_PREFIX)) listed.push(blob);
  const running = new Set((await store.index.listSessions()).map((s) => s.id).filter((id) => !dead.has(id)));
  const indexed = new Set((await store.index.listPacks()).map((p) => p.key));
  return listed.filter((blob) => {
    if (indexed.has(blob.key)) return false;
    const session = sessionOfPack(blob.key);
    return session === null || !running.has(session);
  });
}

async function deleteQuietly(store: ChunkStore, key: string): Promise<void> {
  try {
    await store.blobs.delete(key);
  } catch (error) {
    if (!isCairnError(error, "NOT_FOUND")) throw error;
  }
}

/**
 * Copies a pack's remaining chunks into a new pack, repoints them, and deletes the old object. Returns the
 * bytes left behind: the new pack's size, or the old one's if it was kept.
 */
async function rewritePack(
  store: ChunkStore,
  session: string,
  key: string,
  oldSize: number,
): Promise<number> {
  const chunks = await store.index.packChunks(key);
  const writer = new PackWriter(store.blobs, store.nextPackKey(session));
  const old = await readAll(store.blobs.get(key));
  for (const chunk of chunks) {
    const data = old.subarray(chunk.offset, chunk.offset + chunk.length);
    // Never copy damage into a fresh pack: a bad chunk stays where verify will find it.
    if (chunkHash(data) !== chunk.hash) {
      await writer.abort(new Error("damaged chunk"));
      return oldSize;
    }
    await writer.append(chunk.hash, data);
  }
  const sealed = await writer.seal();
  await store.index.replacePack(key, sealed.pack, sealed.chunks);
  await deleteQuietly(store, key);
  return sealed.pack.size;
}

export interface DamagedFile {
  artifact: string;
  version: string;
  path: string;
}

export interface VerifyReport {
  packs: number;
  chunks: number;
  bytes: number;
  damagedChunks: number;
  missingPacks: string[];
  damagedFiles: DamagedFile[];
  /** Contents whose chunk list names a chunk the index lacks. */
  incompleteFiles: DamagedFile[];
}

/** Re-reads every pack and checks every chunk's BLAKE3; names exactly the files that use a bad chunk. */
export async function verifyStore(store: ChunkStore): Promise<VerifyReport> {
  const report: VerifyReport = {
    packs: 0,
    chunks: 0,
    bytes: 0,
    damagedChunks: 0,
    missingPacks: [],
    damagedFiles: [],
    incompleteFiles: [],
  };
  const bad: string[] = [];
  for (const pack of await store.index.listPacks()) {
    report.packs++;
    const chunks = await store.index.packChunks(pack.key);
    let bytes: Buffer;
    try {
      bytes = await readAll(store.blobs.get(pack.key));
    } catch (error) {
      if (!isCairnError(error, "NOT_FOUND")) throw error;
      report.missingPacks.push(pack.key);
      bad.push(...chunks.map((c) => c.hash));
      continue;
    }
    report.bytes += bytes.byteLength;
    for (const chunk of chunks) {
      report.chunks++;
      const data = bytes.subarray(chunk.offset, chunk.offset + chunk.length);
      if (data.byteLength !== chunk.length || chunkHash(data) !== chunk.hash) bad.push(chunk.hash);
    }
  }
  report.damagedChunks = bad.length;
  report.damagedFiles = bad.length > 0 ? await store.index.filesUsingChunks(bad) : [];
  const unindexed: string[] = [];
  for await (const content of store.index.listContents()) {
    const where = await store.index.locateChunks(content.chunks.map((c) => c.hash));
    for (const c of content.chunks) if (!where.has(c.hash)) unindexed.push(c.hash);
  }
  report.incompleteFiles = unindexed.length > 0 ? await store.index.filesUsingChunks(unindexed) : [];
  return report;
}

/** Rebuilds the chunk index from the packs' own tables (the metadata of versions and files is kept). */
export async function rebuildChunkIndex(
  store: ChunkStore,
): Promise<{ packs: number; chunks: number; skipped: string[] }> {
  const packs: Array<{ pack: PackRecord; chunks: ChunkLocation[] }> = [];
  const skipped: string[] = [];
  for await (const blob of store.blobs.list(PACK_PREFIX)) {
    try {
      const chunks = await readPackTable(store.blobs, blob.key, blob.size);
      packs.push({
        pack: {
          key: blob.key,
          size: blob.size,
          chunkCount: chunks.length,
          createdAt: new Date().toISOString(),
        },
        chunks,
      });
    } catch (error) {
      if (!isCairnError(error, "INTEGRITY")) throw error;
      skipped.push(blob.key);
    }
  }
  await store.index.rebuildIndex(packs);
  return { packs: packs.length, chunks: packs.reduce((n, p) => n + p.chunks.length, 0), skipped };
}
