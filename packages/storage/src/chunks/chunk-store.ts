/**
 * @module The chunk store: cairn's content store. Files are cut into content-defined chunks named by BLAKE3;
 * only chunks the store lacks are written, appended into ~64 MiB packs. Writes are crash-safe in this order:
 * pack durable → index rows → (the caller's) version commit. Reads verify every chunk and the file's sha256.
 */
import { createHash, randomInt, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import {
  type BlobStore,
  type ByteSource,
  type ChunkIndex,
  type ChunkLocation,
  type ChunkRef,
  type ContentReadOptions,
  type ContentRecord,
  type ContentStore,
  type ContentWriteOptions,
  integrity,
  isCairnError,
  type StoredContent,
  type UploadSession,
} from "@cairn/core";
import { chunkHash, chunkStream } from "../chunking/index.js";
import { PackWriter } from "./pack-writer.js";

export const PACK_PREFIX = "packs/";
const DEFAULT_PACK_SIZE = 64 * 1024 * 1024;
// Chunks are claimed and looked up in batches: one index round trip per this many.
const CLAIM_BATCH_CHUNKS = 512;
const CLAIM_BATCH_BYTES = 16 * 1024 * 1024;
// A read joins neighbouring chunks of one pack into one range read of at most this size.
const READ_RUN_BYTES = 16 * 1024 * 1024;
const LOCATE_BATCH = 2048;
export const HEARTBEAT_MS = 20_000;
// A remote upload's chunks are claimed in smaller batches than a local push's: they arrive over the network,
// and each request's batch sits in memory until its claim returns.
const SESSION_BATCH_CHUNKS = 256;
const SESSION_BATCH_BYTES = 8 * 1024 * 1024;

export interface ChunkStoreOptions {
  /** Close a pack once it holds this many bytes of chunks (default 64 MiB). */
  packSize?: number;
}

/** A chunk with its name, on its way into a pack. */
export interface PendingChunk {
  hash: string;
  data: Uint8Array;
}

/** What `storeSessionChunks` did: chunks received, and how many of them (and bytes) the store lacked. */
export interface SessionChunksReport {
  chunks: number;
  written: number;
  writtenBytes: number;
}

/** The pack one upload session is filling: sealed and indexed when full, or when its writer finishes. */
interface PackSlot {
  session: string;
  pack: PackWriter | undefined;
  /** The blob key for the slot's next pack. */
  nextKey(): string;
}

/** Blob key of a pack: the session's id in the name lets GC tell an in-flight pack from an orphan. */
export function packKey(sessionId: string, n: number): string {
  return `${PACK_PREFIX}${sessionId.slice(0, 2)}/${sessionId}-${String(n).padStart(6, "0")}.pack`;
}

export function sessionOfPack(key: string): string | null {
  const match = /\/([0-9a-f-]{36})-\d+\.pack$/.exec(key);
  return match ? match[1]! : null;
}

export class ChunkStore implements ContentStore {
  readonly blobs: BlobStore;
  readonly index: ChunkIndex;
  private readonly packSize: number;
  private session: UploadSession | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private packCount = 0;
  /** This process's own session's open pack (remote uploads fill slots of their own). */
  private own: PackSlot | undefined;
  /** Contents written but not yet recorded: their chunks may still sit in the open pack. */
  private pending: ContentRecord[] = [];

  constructor(blobs: BlobStore, index: ChunkIndex, options: ChunkStoreOptions = {}) {
    this.blobs = blobs;
    this.index = index;
    this.packSize = options.packSize ?? DEFAULT_PACK_SIZE;
  }

  /** This process's upload session, started on first use and kept alive by a heartbeat. */
  async sessionId(): Promise<string> {
    if (!this.session) {
      const now = new Date().toISOString();
      const session: UploadSession = {
        id: randomUUID(),
        host: hostname(),
        pid: process.pid,
        startedAt: now,
        heartbeatAt: now,
      };
      await this.index.touchSession(session);
      this.session = session;
      this.heartbeat = setInterval(() => {
        session.heartbeatAt = new Date().toISOString();
        this.index.touchSession(session).catch(() => {});
      }, HEARTBEAT_MS);
      this.heartbeat.unref();
    }
    return this.session.id;
  }

  async write(source: ByteSource, options: ContentWriteOptions = {}): Promise<StoredContent> {
    const session = await this.sessionId();
    const chunks: ChunkRef[] = [];
    let size = 0;
    let batch: PendingChunk[] = [];
    let batchBytes = 0;
    // Boundaries, chunk hashes and the file's sha256 are computed on worker threads while this one writes.
    const file = chunkStream(source);
    for await (const chunk of file) {
      size += chunk.data.byteLength;
      chunks.push({ hash: chunk.hash, length: chunk.data.byteLength });
      batch.push(chunk);
      batchBytes += chunk.data.byteLength;
      if (batch.length >= CLAIM_BATCH_CHUNKS || batchBytes >= CLAIM_BATCH_BYTES) {
        await this.storeBatch(this.ownSlot(session), batch);
        batch = [];
        batchBytes = 0;
      }
      options.onProgress?.(size);
    }
    await this.storeBatch(this.ownSlot(session), batch);
    const record: ContentRecord = { sha256: file.sha256, size, chunks };
    this.pending.push(record);
    return { sha256: record.sha256, size };
  }

  private ownSlot(session: string): PackSlot {
    this.own ??= { session, pack: undefined, nextKey: () => this.nextPackKey(session) };
    return this.own;
  }

  /**
   * Claims the chunks of a batch the store already holds for the slot's session, then appends the ones it lacks
   * to the slot's pack (indexing the pack claims those for the session: `ChunkIndex.addPack`).
   */
  private async storeBatch(
    slot: PackSlot,
    batch: PendingChunk[],
  ): Promise<{ written: number; bytes: number }> {
    const done = { written: 0, bytes: 0 };
    if (batch.length === 0) return done;
    const unique = [...new Set(batch.map((c) => c.hash))];
    const stored = await this.index.claimChunks(slot.session, unique);
    for (const chunk of batch) {
      if (stored.has(chunk.hash) || slot.pack?.has(chunk.hash)) continue;
      slot.pack ??= new PackWriter(this.blobs, slot.nextKey());
      await slot.pack.append(chunk.hash, chunk.data);
      done.written++;
      done.bytes += chunk.data.byteLength;
      if (slot.pack.size >= this.packSize) await this.sealSlot(slot);
    }
    return done;
  }

  /**
   * Stores the chunks a remote push sends in upload session `sessionId` (another process's, or a client's),
   * already named and checked by the caller, as `write` stores a local file's: claimed in batches, those the
   * store lacks appended to packs of that session's own, each indexed once durable. When `chunks` fails part
   * way (the connection dropped, a chunk did not match its name), the whole chunks received before the failure
   * are still made durable and indexed — a retry then sends only the rest — and the failure is thrown.
   */
  async storeSessionChunks(
    sessionId: string,
    chunks: AsyncIterable<PendingChunk>,
  ): Promise<SessionChunksReport> {
    // Pack numbers are random, not counted: several server processes may serve one session.
    const slot: PackSlot = {
      session: sessionId,
      pack: undefined,
      nextKey: () => packKey(sessionId, randomInt(2 ** 47)),
    };
    const report: SessionChunksReport = { chunks: 0, written: 0, writtenBytes: 0 };
    let batch: PendingChunk[] = [];
    let batchBytes = 0;
    const store = async (): Promise<void> => {
      const done = await this.storeBatch(slot, batch);
      report.written += done.written;
      report.writtenBytes += done.bytes;
      batch = [];
      batchBytes = 0;
    };
    const iterator = chunks[Symbol.asyncIterator]();
    let failure: { error: unknown } | undefined;
    try {
      for (;;) {
        let next: IteratorResult<PendingChunk>;
        try {
          next = await iterator.next();
        } catch (error) {
          failure = { error };
          break;
        }
        if (next.done) break;
        report.chunks++;
        batch.push(next.value);
        batchBytes += next.value.data.byteLength;
        if (batch.length >= SESSION_BATCH_CHUNKS || batchBytes >= SESSION_BATCH_BYTES) await store();
      }
      await store();
      await this.sealSlot(slot);
    } catch (error) {
      // The store failed (not the sender): nothing of the open pack is kept.
      await slot.pack?.abort(error);
      await iterator.return?.();
      throw error;
    }
    if (failure) throw failure.error;
    return report;
  }

  /** A fresh pack key in this session's namespace. */
  nextPackKey(session: string): string {
    return packKey(session, ++this.packCount);
  }

  /** Makes the slot's pack durable, then indexes its chunks: a crash between the two leaves only an orphan. */
  private async sealSlot(slot: PackSlot): Promise<void> {
    const pack = slot.pack;
    if (!pack) return;
    slot.pack = undefined;
    const sealed = await pack.seal();
    await this.index.addPack(sealed.pack, sealed.chunks, slot.session);
  }

  /** Makes every write so far durable and recorded; `has` is true for them afterwards. */
  async flush(): Promise<void> {
    if (this.own) await this.sealSlot(this.own);
    const session = await this.sessionId();
    for (const record of this.pending.splice(0)) await this.index.putContent(session, record);
  }

  has(sha256: string): Promise<boolean> {
    return this.index.hasContent(sha256);
  }

  read(content: StoredContent, options: ContentReadOptions = {}): ByteSource {
    return this.readContent(content, options);
  }

  private async *readContent(content: StoredContent, options: ContentReadOptions): AsyncIterable<Uint8Array> {
    const label = options.label ?? `content ${content.sha256.slice(0, 12)}`;
    const record = await this.index.getContent(content.sha256);
    if (!record) throw integrity(`${label}: its content is missing from the store`);
    if (record.size !== content.size) {
      throw integrity(`${label}: the store holds ${record.size} bytes, the version says ${content.size}`);
    }
    const sha = createHash("sha256");
    let done = 0;
    for await (const pieces of this.readRuns(record.chunks, label)) {
      for (const piece of joinAdjacent(pieces)) {
        sha.update(piece);
        done += piece.byteLength;
        options.onProgress?.(done);
        yield piece;
      }
    }
    if (done !== record.size || sha.digest("hex") !== record.sha256) {
      throw integrity(`${label}: the file's sha256 does not match what was stored`);
    }
  }

  /**
   * Streams chunks by name, in the order given, each checked against its BLAKE3 before it is yielded; a chunk
   * the store lacks (or a damaged one) is INTEGRITY naming `label`. How `read` streams a file, and how the
   * server streams the chunks a remote pull lacks or checks a file a remote push describes.
   */
  async *readChunks(refs: readonly ChunkRef[], label: string): AsyncIterable<Uint8Array> {
    for await (const pieces of this.readRuns(refs, label)) yield* pieces;
  }

  /** `readChunks` a run at a time: the checked chunks of each range read, one piece per chunk. */
  private async *readRuns(refs: readonly ChunkRef[], label: string): AsyncIterable<Uint8Array[]> {
    for (let i = 0; i < refs.length; i += LOCATE_BATCH) {
      const runs = await this.planRuns(refs.slice(i, i + LOCATE_BATCH), label);
      // Read one run ahead, so the disk (or the network) works while the caller writes the previous run.
      let next = runs.length > 0 ? this.readRun(runs[0]!, label) : undefined;
      try {
        for (let r = 0; r < runs.length; r++) {
          const pieces = await next!;
          next = r + 1 < runs.length ? this.readRun(runs[r + 1]!, label) : undefined;
          yield pieces;
        }
      } finally {
        // A consumer that stops early leaves the read ahead running: its failure is no one's to report.
        next?.catch(() => {});
      }
    }
  }

  /** Groups chunks that lie back to back in one pack into runs read with one range request. */
  private async planRuns(refs: ChunkRef[], label: string): Promise<ChunkLocation[][]> {
    const where = await this.index.locateChunks(refs.map((r) => r.hash));
    const runs: ChunkLocation[][] = [];
    let run: ChunkLocation[] = [];
    let runBytes = 0;
    for (const ref of refs) {
      const loc = where.get(ref.hash);
      if (!loc) throw integrity(`${label}: chunk ${ref.hash.slice(0, 16)}… is missing from the store`);
      const last = run[run.length - 1];
      if (
        last &&
        (last.pack !== loc.pack ||
          last.offset + last.length !== loc.offset ||
          runBytes + loc.length > READ_RUN_BYTES)
      ) {
        runs.push(run);
        run = [];
        runBytes = 0;
      }
      run.push(loc);
      runBytes += loc.length;
    }
    if (run.length > 0) runs.push(run);
    return runs;
  }

  /**
   * Reads a run and checks every chunk's BLAKE3 before any byte of it is handed on. Each chunk is a view of
   * the piece the blob store read it into; only a chunk that straddles two pieces is copied (joining the whole
   * run into one buffer would copy every byte, into fresh memory, once more).
   */
  private async readRun(run: ChunkLocation[], label: string, relocate = true): Promise<Uint8Array[]> {
    const first = run[0]!;
    const last = run[run.length - 1]!;
    const length = last.offset + last.length - first.offset;
    const parts: Uint8Array[] = [];
    let received = 0;
    try {
      for await (const part of this.blobs.get(first.pack, { offset: first.offset, length })) {
        parts.push(part);
        received += part.byteLength;
      }
    } catch (error) {
      if (!isCairnError(error, "NOT_FOUND")) throw error;
      // Garbage collection may have rewritten the pack since these chunks were located: look them up again.
      const moved = relocate
        ? await this.planRuns(
            run.map((loc) => ({ hash: loc.hash, length: loc.length })),
            label,
          )
        : [];
      if (moved.length === 0 || moved.some((r) => r[0]!.pack === first.pack)) {
        throw integrity(`${label}: pack ${first.pack} is missing`, { cause: error });
      }
      const pieces: Uint8Array[] = [];
      for (const r of moved) pieces.push(...(await this.readRun(r, label, false)));
      return pieces;
    }
    if (received !== length) throw integrity(`${label}: pack ${first.pack} is truncated`);
    let p = 0;
    let partStart = 0; // where parts[p] starts, counted from the start of the run
    return run.map((loc) => {
      const start = loc.offset - first.offset;
      const end = start + loc.length;
      while (partStart + parts[p]!.byteLength <= start) partStart += parts[p++]!.byteLength;
      let piece: Uint8Array;
      if (end <= partStart + parts[p]!.byteLength) {
        piece = parts[p]!.subarray(start - partStart, end - partStart);
      } else {
        piece = new Uint8Array(loc.length);
        for (let at = 0, q = p, qStart = partStart; at < loc.length; qStart += parts[q++]!.byteLength) {
          const part = parts[q]!;
          const from = start + at - qStart;
          const take = Math.min(part.byteLength - from, loc.length - at);
          piece.set(part.subarray(from, from + take), at);
          at += take;
        }
      }
      if (chunkHash(piece) !== loc.hash) {
        throw integrity(`${label}: chunk ${loc.hash.slice(0, 16)}… in ${loc.pack} is damaged`);
      }
      return piece;
    });
  }

  async verify(content: StoredContent, options: ContentReadOptions = {}): Promise<void> {
    for await (const _ of this.read(content, options)) {
      // Reading is verifying: each chunk and the whole file are checked on the way.
    }
  }

  async *list(): AsyncIterable<StoredContent> {
    for await (const record of this.index.listContents()) yield { sha256: record.sha256, size: record.size };
  }

  /** Abandons unflushed writes and ends the session, releasing its claims (GC may then collect what it left). */
  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    if (this.own?.pack) await this.own.pack.abort(new Error("the chunk store was closed"));
    this.own = undefined;
    this.pending = [];
    if (this.session) await this.index.endSession(this.session.id);
    this.session = undefined;
  }
}

/**
 * Chunks that lie back to back in one buffer, as one view of it (no copy): a file is read as fewer, larger
 * pieces, which costs its consumer (hashing, a write stream) far less than one piece per 64 KiB chunk.
 */
function* joinAdjacent(pieces: Uint8Array[]): Generator<Uint8Array> {
  let run: Uint8Array | undefined;
  for (const piece of pieces) {
    if (run && run.buffer === piece.buffer && run.byteOffset + run.byteLength === piece.byteOffset) {
      run = new Uint8Array(run.buffer, run.byteOffset, run.byteLength + piece.byteLength);
    } else {
      if (run) yield run;
      run = piece;
    }
  }
  if (run) yield run;
}
