/**
 * @module `chunkStream`: a file's bytes in, its chunks (named, in order, with their bytes) out, plus its
 * size and sha256 — the one pass the chunk store makes over a file. Boundaries and chunk names are computed
 * in one worker thread and the sha256 in another while the caller writes the previous chunks, with a bounded
 * number of blocks in flight, so a 4 GB file never sits in memory.
 */

import { createHash } from "node:crypto";
import { BlockReader, ChunkAssembler, type ChunkStreamSource } from "./_blocks.js";
import type { PipelineReply } from "./_pipeline-protocol.js";
import { leaseWorker, type PipelineWorker, releaseWorker } from "./_worker-pool.js";
import { type Chunk, Chunker, type ChunkWithData } from "./chunker.js";

export type { ChunkStreamSource } from "./_blocks.js";

export interface ChunkStreamOptions {
  /** Bytes per block handed to the workers (default 4 MiB). Any size works; chunks may straddle blocks. */
  blockSize?: number;
  /** Blocks read ahead of the consumer (default 4): memory in flight is about blockSize × readAhead. */
  readAhead?: number;
  /** Compute the whole-file sha256 in the same pass, on its own worker thread (default true). */
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
}

/** A file being chunked: iterate it once for its chunks; `size` and `sha256` are known when that ends. */
export interface ChunkedFile extends AsyncIterable<ChunkWithData> {
  /** Bytes read so far; the file's size once iteration has finished. */
  readonly size: number;
  /** Hex sha256 of the whole file. Throws until iteration has finished (or if disabled by `sha256: false`). */
  readonly sha256: string;
}

const DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024;
const DEFAULT_READ_AHEAD = 4;

/**
 * Chunks `source` as the Xet spec does. Unless `transient` is set, each chunk's `data` is a view of memory
 * that is never reused (shared only with neighbouring chunks), so the consumer may keep it as long as it likes.
 */
export function chunkStream(source: ChunkStreamSource, options: ChunkStreamOptions = {}): ChunkedFile {
  return new StreamedFile(source, options);
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
  chunks: Promise<PipelineReply>;
  sha256: Promise<PipelineReply> | undefined;
}

class StreamedFile implements ChunkedFile {
  private readonly blockSize: number;
  private readonly readAhead: number;
  private readonly wantSha256: boolean;
  private readonly useWorkers: boolean;
  private readonly transient: boolean;
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

  [Symbol.asyncIterator](): AsyncIterator<ChunkWithData> {
    if (this.iterated) throw new Error("chunkStream: a stream can be iterated only once");
    this.iterated = true;
    return this.run();
  }

  private async *run(): AsyncGenerator<ChunkWithData> {
    const reader = new BlockReader(this.source, this.blockSize);
    try {
      const first = await reader.next();
      const second = first && this.useWorkers ? await reader.next() : undefined;
      if (second) yield* this.inWorkers(reader, [first!, second]);
      else yield* this.inThread(reader, first);
    } finally {
      await reader.close();
    }
  }

  private async *inThread(reader: BlockReader, first: Uint8Array | undefined): AsyncGenerator<ChunkWithData> {
    const chunker = new Chunker();
    const sha256 = this.wantSha256 ? createHash("sha256") : undefined;
    const assembler = new ChunkAssembler(!this.transient);
    for (let block = first; block; block = await reader.next()) {
      this.bytesRead += block.length;
      sha256?.update(block);
      assembler.enter(block);
      for (const chunk of chunker.push(block)) yield assembler.take(chunk);
      assembler.leave();
      reader.recycle(block);
    }
    for (const chunk of chunker.finish()) yield assembler.take(chunk);
    if (sha256) this.digest = sha256.digest("hex");
  }

  private async *inWorkers(reader: BlockReader, firstBlocks: Uint8Array[]): AsyncGenerator<ChunkWithData> {
    const cutter = leaseWorker();
    const hasher = this.wantSha256 ? leaseWorker() : undefined;
    const workers = hasher ? [cutter, hasher] : [cutter];
    try {
      cutter.start("chunks");
      hasher?.start("sha256");
      const assembler = new ChunkAssembler(!this.transient);
      const queue: InFlight[] = [];
      const send = (bytes: Uint8Array | undefined): void => {
        const ask = (worker: PipelineWorker) => (bytes ? worker.block(bytes) : worker.end());
        queue.push({ bytes, chunks: ask(cutter), sha256: hasher && ask(hasher) });
      };
      for (const block of firstBlocks) send(block);
      let ended = false;
      for (;;) {
        // Top up the blocks in flight first, so the workers stay busy while this thread hands out chunks.
        while (!ended && queue.length < this.readAhead) {
          const block = await reader.next();
          if (!block) ended = true;
          send(block);
        }
        const head = queue.shift();
        if (!head) break;
        const [cut, hashed] = await Promise.all([head.chunks, head.sha256]);
        if (head.bytes) {
          this.bytesRead += head.bytes.length;
          assembler.enter(head.bytes);
        }
        for (const chunk of chunksOf(cut)) yield assembler.take(chunk);
        if (head.bytes) {
          // Both workers are done with this block and the consumer has moved past its chunks: refill it.
          assembler.leave();
          reader.recycle(head.bytes);
        }
        if (!head.bytes && hashed?.type === "sha256") this.digest = hashed.hex;
      }
    } finally {
      for (const worker of workers) releaseWorker(worker);
    }
  }
}

function chunksOf(reply: PipelineReply): Chunk[] {
  if (reply.type !== "chunks") throw new Error(`chunking worker: expected chunks, got ${reply.type}`);
  return reply.chunks;
}
