/**
 * @module `chunkStream`: a file's bytes in, its chunks (named, in order, with their bytes) out, plus its
 * size and sha256 — the one pass the chunk store makes over a file. A worker thread finds the boundaries (the
 * gear scan) and hashes the whole file while this thread reads the next blocks, names the chunks (native
 * BLAKE3) and the consumer writes them, with a bounded number of blocks in flight, so a 4 GB file never sits
 * in memory.
 *
 * Two threads, not three: with two cores a third only time-shares them, and every hop costs a message. The
 * split balances them: gear scan + sha256 there; reading, BLAKE3, the index and the pack writes here. Without
 * the sha256 (a push whose server names the file), BLAKE3 moves to the worker instead.
 */

import { createHash } from "node:crypto";
import type { ChunkRef } from "@cairn/core";
import { createChunkHasher } from "./_blake3.js";
import { BlockReader, ChunkAssembler, type ChunkStreamSource } from "./_blocks.js";
import type { PipelineReply } from "./_pipeline-protocol.js";
import { ReadAhead } from "./_read-ahead.js";
import { leaseWorker, releaseWorker, warmUpWorker } from "./_worker-pool.js";
import { BackgroundSha256 } from "./background-sha256.js";
import { type Chunk, Chunker, type ChunkWithData } from "./chunker.js";
import { FileSource } from "./file-source.js";

export type { ChunkStreamSource } from "./_blocks.js";

export interface ChunkStreamOptions {
  /** Bytes per block handed to the workers (default 4 MiB). Any size works; chunks may straddle blocks. */
  blockSize?: number;
  /**
   * Blocks read ahead of the consumer, or waiting for the worker (default 8): memory in flight is about
   * blockSize × (readAhead + the reads under way, two to four).
   */
  readAhead?: number;
  /** Compute the whole-file sha256 in the same pass (default true). */
  sha256?: boolean;
  /**
   * Hand out each chunk's `data` as a view of a reused buffer, valid only until the next chunk is requested
   * (default false). Saves one copy of the file (~0.2 CPU-seconds per GB); for consumers that copy the bytes
   * elsewhere at once.
   */
  transient?: boolean;
  /**
   * Use worker threads (default true). Without them every step runs on the calling thread; a source that fits
   * in one block is always chunked there, as starting the pipeline would cost more than it saves.
   */
  workers?: boolean;
  /**
   * The chunk list of an earlier version of this file. Where the bytes repeat it, chunks are found by naming
   * the bytes the next known chunk would span rather than by the gear scan (same chunks; see core's
   * ChunkGuide): this thread then cuts and names, and the worker only hashes the whole file.
   */
  previous?: readonly ChunkRef[];
}

/** A file being chunked: iterate it once for its chunks; `size` and `sha256` are known when that ends. */
export interface ChunkedFile extends AsyncIterable<ChunkWithData> {
  /**
   * Iterates the chunks a block at a time instead (one array per block read, possibly empty), for consumers
   * that handle chunks in batches. With `transient`, a batch's bytes stay valid until the next is requested.
   * A file is iterated once, either way.
   */
  batches(): AsyncIterable<ChunkWithData[]>;
  /** Bytes read so far; the file's size once iteration has finished. */
  readonly size: number;
  /** Hex sha256 of the whole file. Throws until iteration has finished (or if disabled by `sha256: false`). */
  readonly sha256: string;
}

const DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024;
// Eight, not four: blocks are read straight from the disk, one at a time, and a consumer waiting on its own
// writes must not leave the disk idle for reads (1 GiB local push, cold: 1.9-2.3 s with four, 1.6-2.1 with eight).
const DEFAULT_READ_AHEAD = 8;
/**
 * Reads of a file kept under way: a read straight from the disk gets no kernel read-ahead, so they are all the
 * disk has to work on. Two while the worker scans (one at a time left the disk idle between them; three were no
 * faster). Four while this thread follows an earlier version, as it then does more per block: with two, a 1 GiB
 * new version with 10% changed, cold from a disk that reads ~1 GB/s, took 1.72-2.24 s (median 2.13), with six
 * 1.71-2.05 s (median 1.92).
 */
const READS_WHILE_SCANNING = 2;
const READS_WHILE_FOLLOWING = 4;

/**
 * Chunks `source` as the Xet spec does. Unless `transient` is set, each chunk's `data` is a view of memory
 * that is never reused (shared only with neighbouring chunks), so the consumer may keep it as long as it likes.
 */
export function chunkStream(source: ChunkStreamSource, options: ChunkStreamOptions = {}): ChunkedFile {
  return new StreamedFile(source, options);
}

/**
 * Gets ready to chunk `source` soon: a file (likely larger than a block) has its worker thread started now,
 * so that it boots while the caller does other work first (a 1 GiB push: the first block's hash waited
 * ~70 ms for it).
 */
export function prepareToChunk(source: ChunkStreamSource): void {
  if (source instanceof FileSource) warmUpWorker();
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RangeError(`chunkStream: ${name} must be a positive integer`);
  return value;
}

interface InFlight {
  /** The block, or undefined for the end of the stream. */
  bytes: Uint8Array | undefined;
  done: Promise<PipelineReply>;
}

class StreamedFile implements ChunkedFile {
  private readonly blockSize: number;
  private readonly readAhead: number;
  private readonly wantSha256: boolean;
  private readonly useWorkers: boolean;
  private readonly transient: boolean;
  private readonly previous: readonly ChunkRef[] | undefined;
  private bytesRead = 0;
  private digest: string | undefined;
  private iterated = false;

  constructor(
    private readonly source: ChunkStreamSource,
    options: ChunkStreamOptions,
  ) {
    this.blockSize = positiveInteger("blockSize", options.blockSize, DEFAULT_BLOCK_SIZE);
    this.readAhead = positiveInteger("readAhead", options.readAhead, DEFAULT_READ_AHEAD);
    this.wantSha256 = options.sha256 ?? true;
    this.useWorkers = options.workers ?? true;
    this.transient = options.transient ?? false;
    this.previous = options.previous;
  }

  get size(): number {
    return this.bytesRead;
  }

  get sha256(): string {
    if (this.digest !== undefined) return this.digest;
    throw new Error(
      this.wantSha256
        ? "chunkStream: the sha256 is known once every chunk has been read"
        : "chunkStream: sha256 was not computed (sha256: false)",
    );
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChunkWithData> {
    for await (const batch of this.batches()) yield* batch;
  }

  batches(): AsyncIterable<ChunkWithData[]> {
    if (this.iterated) throw new Error("chunkStream: a stream can be iterated only once");
    this.iterated = true;
    return this.run();
  }

  private async *run(): AsyncGenerator<ChunkWithData[]> {
    if (this.useWorkers) prepareToChunk(this.source);
    const reader = new BlockReader(this.source, this.blockSize);
    try {
      const first = await reader.next();
      const second = first && this.useWorkers ? await reader.next() : undefined;
      if (!second) {
        yield* this.inThread(reader, first);
        return;
      }
      if (this.previous) {
        // Following pays only where the bytes repeat the earlier version; a file that differs from the start (a
        // model retrained from scratch) is cut faster by the worker's scan, with this thread only naming.
        const chunker = new Chunker({ previous: this.previous });
        const firstChunks = chunker.push(first!);
        if (chunker.followedBytes >= first!.length / 2) {
          yield* this.alongPrevious(reader, [first!, second], chunker, firstChunks);
          return;
        }
      }
      yield* this.inWorkers(reader, [first!, second]);
    } finally {
      await reader.close();
    }
  }

  private async *inThread(
    reader: BlockReader,
    first: Uint8Array | undefined,
  ): AsyncGenerator<ChunkWithData[]> {
    const chunker = new Chunker({ previous: this.previous });
    const sha256 = this.wantSha256 ? createHash("sha256") : undefined;
    const assembler = new ChunkAssembler(!this.transient);
    for (let block = first; block; block = await reader.next()) {
      this.bytesRead += block.length;
      sha256?.update(block);
      assembler.enter(block);
      yield chunker.push(block).map((chunk) => assembler.take(chunk));
      assembler.leave();
      reader.recycle(block);
    }
    yield chunker.finish().map((chunk) => assembler.take(chunk));
    if (sha256) this.digest = sha256.digest("hex");
  }

  /**
   * Chunking along an earlier version: this thread cuts (mostly by naming known chunks, see ChunkGuide) and
   * names; the worker hashes the whole file. The split differs from `inWorkers` because the guide's work
   * depends on the names: the gear scan runs only where the bytes changed, so it belongs next to the naming,
   * and the sha256 is the longer half. Each block goes to the worker as soon as it is read, not when this
   * thread gets to it, and reading goes on while either is busy (see ReadAhead).
   */
  private async *alongPrevious(
    reader: BlockReader,
    firstBlocks: Uint8Array[],
    chunker: Chunker,
    firstChunks: Chunk[],
  ): AsyncGenerator<ChunkWithData[]> {
    const sha256 = this.wantSha256 ? new BackgroundSha256() : undefined;
    const assembler = new ChunkAssembler(!this.transient);
    // Blocks held: those read ahead or in use here, and up to readAhead more still being hashed.
    const reads = Math.min(READS_WHILE_FOLLOWING, reader.readsAtOnce);
    const limits = { reads, blocks: reads + this.readAhead };
    const blocks = new ReadAhead(reader, limits, firstBlocks, (block) =>
      sha256 ? sha256.update(block) : Promise.resolve(),
    );
    try {
      for (let block = await blocks.next(); block; block = await blocks.next()) {
        this.bytesRead += block.length;
        assembler.enter(block);
        const cut = block === firstBlocks[0] ? firstChunks : chunker.push(block);
        yield cut.map((chunk) => assembler.take(chunk));
        assembler.leave();
        blocks.release(block);
      }
      yield chunker.finish().map((chunk) => assembler.take(chunk));
      await blocks.drain();
      if (sha256) this.digest = await sha256.digest();
    } finally {
      blocks.stop();
      // Blocks still being hashed are left to the garbage collector: the worker may be reading them.
      sha256?.release();
    }
  }

  private async *inWorkers(reader: BlockReader, firstBlocks: Uint8Array[]): AsyncGenerator<ChunkWithData[]> {
    const scanner = leaseWorker();
    try {
      // The worker names the chunks too when it has no whole-file hash to compute: then this thread only
      // reads and hands out, and the worker hashes bytes its scan has just brought into its cache.
      const workerNames = !this.wantSha256;
      scanner.start("cuts", { sha256: this.wantSha256, names: workerNames });
      const assembler = new ChunkAssembler(!this.transient);
      const namer = workerNames ? undefined : createChunkHasher();
      /** Stream offset where the open chunk starts. */
      let chunkStart = 0;
      const chunk = (end: number, name: string | undefined): ChunkWithData => {
        const { data, offset, length } = assembler.take({
          offset: chunkStart,
          length: end - chunkStart,
          hash: "",
        });
        chunkStart = end;
        if (namer) {
          namer.update(data);
          name = namer.digest();
        }
        if (name === undefined) throw new Error("chunking worker: a chunk came without its name");
        return { offset, length, data, hash: name };
      };
      const queue: InFlight[] = [];
      const send = (bytes: Uint8Array | undefined): void => {
        queue.push({ bytes, done: bytes ? scanner.block(bytes) : scanner.end() });
      };
      for (const block of firstBlocks) send(block);
      let ended = false;
      // The next reads, under way while this thread names and hands out chunks.
      const readsAtOnce = Math.min(READS_WHILE_SCANNING, reader.readsAtOnce);
      const reading: Promise<Uint8Array | undefined>[] = [];
      for (;;) {
        // Top up the blocks in flight first, so the worker stays busy while this thread hands out chunks.
        while (!ended && queue.length < this.readAhead) {
          const block = await (reading.shift() ?? reader.next());
          if (!block) ended = true;
          send(block);
        }
        while (!ended && reading.length < readsAtOnce) {
          const read = reader.next();
          read.catch(() => {}); // awaited above, unless the consumer stops first
          reading.push(read);
        }
        const head = queue.shift();
        if (!head) break;
        const reply = await head.done;
        if (reply.type === "failed") throw new Error(`chunking worker: ${reply.message}`);
        if (head.bytes && reply.type === "block") {
          const blockStart = this.bytesRead;
          this.bytesRead += head.bytes.length;
          assembler.enter(head.bytes);
          yield reply.cuts.map((cut, i) => chunk(blockStart + cut, reply.names?.[i]));
          // The worker is done with this block and the consumer has moved past its chunks: refill it.
          assembler.leave();
          reader.recycle(head.bytes);
        } else if (reply.type === "end") {
          // The bytes after the last cut are the last chunk.
          yield this.bytesRead > chunkStart ? [chunk(this.bytesRead, reply.last)] : [];
          if (reply.sha256 !== undefined) this.digest = reply.sha256;
        }
      }
    } finally {
      releaseWorker(scanner);
    }
  }
}
