/**
 * @module The synchronous chunker with the chunk store's fast namer: core's `Chunker` (the one implementation
 * of Xet chunking) naming chunks with the native BLAKE3 binding where it loads. `chunkStream` is the faster
 * path for whole files; this one suits buffers already in memory.
 */

import {
  type ChunkRef,
  type ChunkWithData,
  Chunker as CoreChunker,
  type ChunkerOptions as CoreChunkerOptions,
  chunkBuffer as coreChunkBuffer,
} from "@cairn/core";
import { createChunkHasher } from "./_blake3.js";

export type { Chunk, ChunkWithData } from "@cairn/core";

export interface ChunkerOptions {
  /**
   * Use the pure-JavaScript gear kernel and BLAKE3 instead of WebAssembly and the native binding. Same
   * output, several times slower; for tests and for hosts where the fast paths cannot load.
   */
  portable?: boolean;
  /** An earlier version's chunk list, to chunk along (see core's ChunkerOptions.previous). */
  previous?: readonly ChunkRef[];
}

const withNativeHasher = (options: ChunkerOptions): CoreChunkerOptions => ({
  ...options,
  hasher: createChunkHasher(options),
});

/** core's streaming chunker, naming chunks natively unless `portable` is set. */
export class Chunker extends CoreChunker {
  constructor(options: ChunkerOptions = {}) {
    super(withNativeHasher(options));
  }
}

/** Chunks a whole buffer; each chunk's `data` is a view into `buffer`. */
export function chunkBuffer(buffer: Uint8Array, options: ChunkerOptions = {}): ChunkWithData[] {
  return coreChunkBuffer(buffer, withNativeHasher(options));
}
