/**
 * @module The chunk store: cairn's content store. Files are cut into content-defined chunks named by BLAKE3;
 * only chunks the store lacks are written, appended into ~64 MiB packs. Writes are crash-safe in this order:
 * pack durable → index rows → (the caller's) version commit. Reads verify every chunk and the file's sha256.
 */
import { createHash, randomUUID } from "node:crypto";
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
import { readAll } from "./pack-format.js";
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

export interface ChunkStoreOptions {
  /** Close a pack once it holds this many bytes of chunks (default 64 MiB). */
  packSize?: number;
}

interface PendingChunk {
  hash: string;
  data: Uint8Array;
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
  private pack: PackWriter | undefined;
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
        await this.storeChunks(session, batch);
        batch = [];
        batchBytes = 0;
      }
      options.onProgress?.(size);
    }
    await this.storeChunks(session, batch);
    const record: ContentRecord = { sha256: file.sha256, size, chunks };
    this.pending.push(record);
    return { sha256: record.sha256, size };
  }

  /** Claims a batch, then appends the chunks the store lacks to the open pack. */
  private async storeChunks(session: string, batch: PendingChunk[]): Promise<void> {
    if (batch.length === 0) return;
    const unique = [...new Set(batch.map((c) => c.hash))];
    const stored = await this.index.claimChunks(session, unique);
    for (const chunk of batch) {
      if (stored.has(chunk.hash) || this.pack?.has(chunk.hash)) continue;
      this.pack ??= new PackWriter(this.blobs, this.nextPackKey(session));
      await this.pack.append(chunk.hash, chunk.data);
      if (this.pack.size >= this.packSize) await this.sealPack();
    }
  }

  /** A fresh pack key in this session's namespace. */
  nextPackKey(session: string): string {
    return packKey(session, ++this.packCount);
  }

  private async sealPack(): Promise<void> {
    const pack = this.pack;
    if (!pack) return;
    this.pack = undefined;
    const sealed = await pack.seal();
    await this.index.addPack(sealed.pack, sealed.chunks);
  }

  /** Makes every write so far durable and recorded; `has` is true for them afterwards. */
  async flush(): Promise<void> {
    await this.sealPack();
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
    for (let i = 0; i < record.chunks.length; i += LOCATE_BATCH) {
      const refs = record.chunks.slice(i, i + LOCATE_BATCH);
      const runs = await this.planRuns(refs, label);
      // Read one run ahead, so the disk (or the network) works while the caller writes the previous run.
      let next = runs.length > 0 ? this.readRun(runs[0]!, label) : undefined;
      for (let r = 0; r < runs.length; r++) {
        const pieces = await next!;
        next = r + 1 < runs.length ? this.readRun(runs[r + 1]!, label) : undefined;
        for (const piece of pieces) {
          sha.update(piece);
          done += piece.byteLength;
          options.onProgress?.(done);
          yield piece;
        }
      }
    }
    if (done !== record.size || sha.digest("hex") !== record.sha256) {
      throw integrity(`${label}: the file's sha256 does not match what was stored`);
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

  /** Reads a run and checks every chunk's BLAKE3 before any byte of it is handed on. */
  private async readRun(run: ChunkLocation[], label: string): Promise<Uint8Array[]> {
    const first = run[0]!;
    const last = run[run.length - 1]!;
    const length = last.offset + last.length - first.offset;
    let bytes: Buffer;
    try {
      bytes = await readAll(this.blobs.get(first.pack, { offset: first.offset, length }));
    } catch (error) {
      if (isCairnError(error, "NOT_FOUND"))
        throw integrity(`${label}: pack ${first.pack} is missing`, { cause: error });
      throw error;
    }
    if (bytes.byteLength !== length) throw integrity(`${label}: pack ${first.pack} is truncated`);
    return run.map((loc) => {
      const piece = bytes.subarray(loc.offset - first.offset, loc.offset - first.offset + loc.length);
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
    if (this.pack) await this.pack.abort(new Error("the chunk store was closed"));
    this.pack = undefined;
    this.pending = [];
    if (this.session) await this.index.endSession(this.session.id);
    this.session = undefined;
  }
}
