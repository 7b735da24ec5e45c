/**
 * @module The synchronous chunker: cuts bytes into content-defined chunks and names each one, on the calling
 * thread. `chunkStream` is the faster path for whole files; this one suits buffers already in memory.
 */

import { type ChunkHasher, createChunkHasher } from "./_blake3.js";
import { BoundaryFinder } from "./_boundaries.js";

/** One chunk of a byte stream. */
export interface Chunk {
  /** Keyed BLAKE3 of the chunk's bytes, lowercase hex (64 characters). */
  hash: string;
  /** Where the chunk starts in the stream. */
  offset: number;
  length: number;
  /** The chunk's bytes, where the producer has them at hand (a view, not a copy). */
  data?: Uint8Array;
}

/** A chunk that carries its bytes. */
export interface ChunkWithData extends Chunk {
  data: Uint8Array;
}

export interface ChunkerOptions {
  /**
   * Use the pure-JavaScript gear kernel and BLAKE3 instead of WebAssembly and the native binding. Same
   * output, several times slower; for tests and for hosts where the fast paths cannot load.
   */
  portable?: boolean;
}

/**
 * A streaming chunker: `push` pieces of any size, then `finish`. Chunks come out as soon as their last byte
 * is known, named and with their place in the stream, but without bytes: the caller fed them and can slice
 * them (see `chunkBuffer`, `chunkStream` for chunks that carry their bytes).
 */
export class Chunker {
  private readonly finder: BoundaryFinder;
  private readonly hasher: ChunkHasher;
  /** Stream offset of the next byte pushed. */
  private position = 0;
  private chunkStart = 0;

  constructor(options: ChunkerOptions = {}) {
    this.finder = new BoundaryFinder(options);
    this.hasher = createChunkHasher(options);
  }

  /** Feeds the next bytes of the stream; returns the chunks that end within them. */
  push(data: Uint8Array): Chunk[] {
    const chunks: Chunk[] = [];
    let from = 0;
    for (const cut of this.finder.push(data)) {
      this.hasher.update(data.subarray(from, cut));
      const end = this.position + cut;
      chunks.push({ hash: this.hasher.digest(), offset: this.chunkStart, length: end - this.chunkStart });
      this.chunkStart = end;
      from = cut;
    }
    if (from < data.length) this.hasher.update(data.subarray(from));
    this.position += data.length;
    return chunks;
  }

  /** Ends the stream: returns the last chunk (if bytes remain) and makes the chunker ready for a new stream. */
  finish(): Chunk[] {
    const chunks: Chunk[] = [];
    if (this.position > this.chunkStart) {
      chunks.push({
        hash: this.hasher.digest(),
        offset: this.chunkStart,
        length: this.position - this.chunkStart,
      });
    }
    this.finder.reset();
    this.position = 0;
    this.chunkStart = 0;
    return chunks;
  }

  /** Bytes pushed so far in the current stream. */
  get bytesSeen(): number {
    return this.position;
  }
}

/** Chunks a whole buffer; each chunk's `data` is a view into `buffer`. */
export function chunkBuffer(buffer: Uint8Array, options: ChunkerOptions = {}): ChunkWithData[] {
  const chunker = new Chunker(options);
  return [...chunker.push(buffer), ...chunker.finish()].map((chunk) => ({
    ...chunk,
    data: buffer.subarray(chunk.offset, chunk.offset + chunk.length),
  }));
}
