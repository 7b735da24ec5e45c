/**
 * @module The chunk store: cairn's content store. Files are cut into content-defined chunks named by BLAKE3;
 * only chunks the store lacks are written, appended into ~64 MiB packs. Writes are crash-safe in this order:
 * pack durable → index rows → (the caller's) version commit. Reads verify every chunk and the file's sha256.
 */
import { randomInt, randomUUID } from "node:crypto";
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
import { BackgroundSha256 } from "../chunking/background-sha256.js";
import { chunkHash, chunkStream, prepareToChunk } from "../chunking/index.js";
import { PackWriter } from "./pack-writer.js";

export const PACK_PREFIX = "packs/";
const DEFAULT_PACK_SIZE = 64 * 1024 * 1024;
// A read joins neighbouring chunks of one pack into one range read of at most this size.
const READ_RUN_BYTES = 8 * 1024 * 1024;
// Runs read (and checked) ahead of the consumer, so the disk and this thread work while it writes.
const READ_AHEAD_RUNS = 2;
// Runs whose sha256 may still be computing on the worker while the consumer takes the next ones.
const HASHING_RUNS = 2;
const LOCATE_BATCH = 2048;
export const HEARTBEAT_MS = 20_000;
export interface ChunkStoreOptions {
  /** Close a pack once it holds this many bytes of chunks (default 64 MiB). */
  packSize?: number;
}

/**
 * A chunk with its name, on its way into a pack: its bytes in one array, or as the consecutive parts they
 * arrived in (a remote push's chunks straddle the pieces of the request body; joining them would copy each).
 */
export interface PendingChunk {
  hash: string;
  data: Uint8Array | readonly Uint8Array[];
}

/** A chunk whose bytes lie in one array, as a local write appends it to a pack. */
interface WholeChunk {
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
  /**
   * Full packs being made durable and indexed while the next one fills (a pack's fsync is most of a second of
   * disk time that chunking need not wait for). Their chunks are not in the index yet, so they are checked here.
   */
  sealing: Array<{ pack: PackWriter; done: Promise<void> }>;
  /** The blob key for the slot's next pack. */
  nextKey(): string;
}

/** Packs of one slot sealed in the background at once; the next full one waits for the oldest. */
const SEALING_PACKS = 1;

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
    prepareToChunk(source);
    const session = await this.sessionId();
    const slot = this.ownSlot(session);
    const chunks: ChunkRef[] = [];
    let size = 0;
    // An earlier version the caller named, if the index knows it: its chunk list guides the chunking, and its
    // chunks, claimed with it, are known to be stored without a lookup each.
    const earlier = options.previous ? await this.index.claimContent(session, options.previous) : null;
    // Chunking runs on a worker thread and this one (see chunkStream) while this one also writes. A batch is
    // the chunks of one block of the file: claimed in one index call and copied into the pack before the block
    // is refilled (transient), so no memory is allocated per block.
    const file = chunkStream(source, { transient: true, previous: earlier?.chunks });
    for await (const batch of file.batches()) {
      for (const chunk of batch) {
        size += chunk.data.byteLength;
        chunks.push({ hash: chunk.hash, length: chunk.data.byteLength });
      }
      await this.storeBatch(slot, batch, earlier?.stored);
      options.onProgress?.(size);
    }
    const record: ContentRecord = { sha256: file.sha256, size, chunks };
    this.pending.push(record);
    return { sha256: record.sha256, size };
  }

  private ownSlot(session: string): PackSlot {
    this.own ??= { session, pack: undefined, sealing: [], nextKey: () => this.nextPackKey(session) };
    return this.own;
  }

  /**
   * Claims the chunks of a batch the store already holds for the slot's session, then appends the ones it lacks
   * to the slot's pack (indexing the pack claims those for the session: `ChunkIndex.addPack`). Chunks in
   * `claimed` (of content the session has claimed) are stored and safe already.
   */
  private async storeBatch(
    slot: PackSlot,
    batch: WholeChunk[],
    claimed?: ReadonlySet<string>,
  ): Promise<void> {
    const unique = [...new Set(batch.map((c) => c.hash))].filter((hash) => !claimed?.has(hash));
    if (unique.length === 0) return;
    const stored = await this.index.claimChunks(slot.session, unique);
    for (const chunk of batch) {
      if (claimed?.has(chunk.hash) || stored.has(chunk.hash)) continue;
      await this.appendToSlot(slot, chunk.hash, chunk.data);
    }
  }

  /**
   * Appends a chunk to the slot's pack unless the slot has it already (in the open pack or one still sealing);
   * a full pack is sealed. Returns the bytes appended (0 if none).
   */
  private async appendToSlot(slot: PackSlot, hash: string, data: PendingChunk["data"]): Promise<number> {
    if (slot.pack?.has(hash) || slot.sealing.some((s) => s.pack.has(hash))) return 0;
    slot.pack ??= new PackWriter(this.blobs, slot.nextKey());
    const bytes = await slot.pack.append(hash, data);
    if (slot.pack.size >= this.packSize) {
      this.sealSlot(slot);
      await this.settle(slot, SEALING_PACKS);
    }
    return bytes;
  }

  /**
   * Stores the chunks a remote push sends in upload session `sessionId` (another process's, or a client's),
   * already named and checked by the caller: each appended to a pack of that session's own as it comes (copied
   * from the parts it arrived in), each pack indexed once durable. When `chunks` fails part way (the connection
   * dropped, a chunk did not match its name), the whole chunks received before the failure are still made
   * durable and indexed — a retry then sends only the rest — and the failure is thrown.
   *
   * Unlike a local write, the chunks are not looked up first: the client asked which the store lacks
   * (`claimChunks`, through chunks/missing) just before sending them. One another push stored meanwhile is
   * written twice and indexed once (`addPack` keeps the first copy), and GC reclaims the spare. Looking every
   * chunk up again, in batches held in memory until their lookup returned, cost a copy of every byte and a
   * tenth of the server's time on a push.
   */
  async storeSessionChunks(
    sessionId: string,
    chunks: AsyncIterable<PendingChunk>,
  ): Promise<SessionChunksReport> {
    // Pack numbers are random, not counted: several server processes may serve one session.
    const slot: PackSlot = {
      session: sessionId,
      pack: undefined,
      sealing: [],
      nextKey: () => packKey(sessionId, randomInt(2 ** 47)),
    };
    const report: SessionChunksReport = { chunks: 0, written: 0, writtenBytes: 0 };
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
        const bytes = await this.appendToSlot(slot, next.value.hash, next.value.data);
        if (bytes > 0) {
          report.written++;
          report.writtenBytes += bytes;
        }
      }
      this.sealSlot(slot);
      await this.settle(slot);
    } catch (error) {
      // The store failed (not the sender): nothing of the open pack is kept.
      await slot.pack?.abort(error);
      await this.settle(slot).catch(() => {});
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

  /**
   * Starts making the slot's pack durable, then indexing its chunks (a crash between the two leaves only an
   * orphan); `settle` waits for it.
   */
  private sealSlot(slot: PackSlot): void {
    const pack = slot.pack;
    if (!pack) return;
    slot.pack = undefined;
    const done = pack.seal().then((sealed) => this.index.addPack(sealed.pack, sealed.chunks, slot.session));
    done.catch(() => {}); // reported by settle
    slot.sealing.push({ pack, done });
  }

  /** Waits until at most `keep` of the slot's packs are still being sealed; throws if one failed. */
  private async settle(slot: PackSlot, keep = 0): Promise<void> {
    while (slot.sealing.length > keep) {
      const oldest = slot.sealing[0]!;
      try {
        await oldest.done;
      } finally {
        if (slot.sealing[0] === oldest) slot.sealing.shift();
      }
    }
  }

  /** Makes every write so far durable and recorded; `has` is true for them afterwards. */
  async flush(): Promise<void> {
    if (this.own) {
      this.sealSlot(this.own);
      await this.settle(this.own);
    }
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
    const read = { size: 0, sha256: "" };
    yield* this.hashedRead(record.chunks, label, options, read);
    if (read.size !== record.size || read.sha256 !== record.sha256) {
      throw integrity(`${label}: the file's sha256 does not match what was stored`);
    }
  }

  /**
   * Reads back the bytes `chunks` name, each chunk checked, and returns their sha256 and size, as a read of a
   * stored file computes them: how a server checks the file a remote push describes before recording it.
   * `afterRun` is awaited after each run of chunks (a session's heartbeat, say).
   */
  async sha256Of(
    chunks: readonly ChunkRef[],
    label: string,
    afterRun?: () => Promise<void>,
  ): Promise<{ sha256: string; size: number }> {
    const read = { size: 0, sha256: "" };
    for await (const _ of this.hashedRead(chunks, label, { transient: true }, read)) await afterRun?.();
    return read;
  }

  /**
   * The chunks' bytes, a run at a time, each chunk checked; `result` gets their size and sha256 once the last
   * run is out. Runs are read into shared memory, so the sha256 runs on a worker while this thread checks the
   * next run's chunks and the consumer writes; a transient consumer lets the run buffers be reused.
   */
  private async *hashedRead(
    chunks: readonly ChunkRef[],
    label: string,
    options: ContentReadOptions,
    result: { size: number; sha256: string },
  ): AsyncIterable<Uint8Array> {
    const pool = options.transient ? new RunBuffers() : undefined;
    const take = pool ? (length: number) => pool.take(length) : sharedBuffer;
    const sha = new BackgroundSha256();
    const hashing: Array<{ bytes: Uint8Array; done: Promise<void> }> = [];
    let done = 0;
    try {
      for await (const { bytes } of this.readRuns(chunks, label, take)) {
        const hashed = sha.update(bytes);
        done += bytes.byteLength;
        options.onProgress?.(done);
        yield bytes;
        // A bounded number of runs hashing at once: memory stays bounded however fast the consumer is.
        hashing.push({ bytes, done: hashed });
        while (hashing.length > HASHING_RUNS) {
          const oldest = hashing.shift()!;
          await oldest.done;
          pool?.give(oldest.bytes);
        }
      }
      for (const run of hashing) await run.done;
      result.size = done;
      result.sha256 = await sha.digest();
    } finally {
      sha.release();
    }
  }

  /**
   * Streams chunks by name, in the order given, each checked against its BLAKE3 before it is yielded; a chunk
   * the store lacks (or a damaged one) is INTEGRITY naming `label`. How the server streams the chunks a remote
   * pull lacks.
   */
  async *readChunks(refs: readonly ChunkRef[], label: string): AsyncIterable<Uint8Array> {
    for await (const { bytes, chunks } of this.readRuns(refs, label, plainBuffer)) {
      let at = 0;
      for (const chunk of chunks) {
        yield bytes.subarray(at, at + chunk.length);
        at += chunk.length;
      }
    }
  }

  /** The chunks `refs` names, a run (one range read) at a time, each checked; `take` gives the memory. */
  private async *readRuns(
    refs: readonly ChunkRef[],
    label: string,
    take: TakeBuffer,
  ): AsyncIterable<ReadRun> {
    for (let i = 0; i < refs.length; i += LOCATE_BATCH) {
      const runs = await this.planRuns(refs.slice(i, i + LOCATE_BATCH), label);
      // Read ahead, so the disk (or the network) and the BLAKE3 checks work while the caller writes.
      const ahead: Promise<ReadRun[]>[] = [];
      let r = 0;
      for (;;) {
        while (ahead.length < READ_AHEAD_RUNS && r < runs.length) {
          const read = this.readRun(runs[r++]!, label, take);
          // Awaited in turn below. Until then a failure must not count as unhandled: Node reports a rejection
          // that fails while the consumer still holds an earlier run, and one a consumer that stopped early
          // never awaits.
          read.catch(() => {});
          ahead.push(read);
        }
        const next = ahead.shift();
        if (!next) break;
        yield* await next;
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
   * Reads a run with one range read into memory from `take` and checks every chunk's BLAKE3 before any byte of
   * it is handed on. Normally one run comes back; more if garbage collection had moved its chunks.
   */
  private async readRun(
    run: ChunkLocation[],
    label: string,
    take: TakeBuffer,
    relocate = true,
  ): Promise<ReadRun[]> {
    const first = run[0]!;
    const last = run[run.length - 1]!;
    const length = last.offset + last.length - first.offset;
    const bytes = take(length);
    let received: number;
    try {
      received = await this.readRange(first.pack, first.offset, bytes);
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
      const reads: ReadRun[] = [];
      for (const r of moved) reads.push(...(await this.readRun(r, label, take, false)));
      return reads;
    }
    if (received !== length) throw integrity(`${label}: pack ${first.pack} is truncated`);
    for (const loc of run) {
      const start = loc.offset - first.offset;
      if (chunkHash(bytes.subarray(start, start + loc.length)) !== loc.hash) {
        throw integrity(`${label}: chunk ${loc.hash.slice(0, 16)}… in ${loc.pack} is damaged`);
      }
    }
    return [{ bytes, chunks: run }];
  }

  /** Fills `target` from a pack at `offset`; the local blob store reads straight into it. */
  private async readRange(key: string, offset: number, target: Uint8Array): Promise<number> {
    if (readsInto(this.blobs)) return this.blobs.readInto(key, offset, target);
    let filled = 0;
    for await (const part of this.blobs.get(key, { offset, length: target.length })) {
      if (filled + part.byteLength > target.length) throw integrity(`pack ${key} returned too many bytes`);
      target.set(part, filled);
      filled += part.byteLength;
    }
    return filled;
  }

  async verify(content: StoredContent, options: ContentReadOptions = {}): Promise<void> {
    // Nothing keeps the pieces, so the read may reuse its buffers.
    for await (const _ of this.read(content, { ...options, transient: true })) {
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
    // A pack being sealed is left to finish (or fail) before the session ends: it is whole either way.
    if (this.own) await Promise.allSettled(this.own.sealing.map((s) => s.done));
    this.own = undefined;
    this.pending = [];
    if (this.session) await this.index.endSession(this.session.id);
    this.session = undefined;
  }
}

/** The bytes of a run of chunks that lie back to back in one pack, checked. */
interface ReadRun {
  bytes: Uint8Array;
  chunks: ChunkLocation[];
}

/** Gives memory for a run of `length` bytes. */
type TakeBuffer = (length: number) => Uint8Array;

const sharedBuffer: TakeBuffer = (length) => new Uint8Array(new SharedArrayBuffer(length));
// Unzeroed: a run is read whole into it, or the read fails.
const plainBuffer: TakeBuffer = (length) => Buffer.allocUnsafeSlow(length);

/** A blob store that reads a range straight into the caller's memory (the local one). */
const readsInto = (
  blobs: BlobStore,
): blobs is BlobStore & { readInto(key: string, offset: number, target: Uint8Array): Promise<number> } =>
  typeof (blobs as { readInto?: unknown }).readInto === "function";

/**
 * Run buffers of one transient read, reused once the consumer and the hashing worker are done with them:
 * fresh memory per run cost page faults and garbage collections that took longer than the reading.
 */
class RunBuffers {
  private readonly spare: SharedArrayBuffer[] = [];

  take(length: number): Uint8Array {
    const buffer = this.spare.pop() ?? new SharedArrayBuffer(READ_RUN_BYTES);
    return new Uint8Array(buffer, 0, length);
  }

  give(bytes: Uint8Array): void {
    const buffer = bytes.buffer;
    if (
      buffer instanceof SharedArrayBuffer &&
      buffer.byteLength === READ_RUN_BYTES &&
      this.spare.length < 2
    ) {
      this.spare.push(buffer);
    }
  }
}
