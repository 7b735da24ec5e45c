/**
 * @module The chunker: cuts bytes into content-defined chunks (Xet's gear boundaries) and names each one
 * (keyed BLAKE3), on the calling thread. Pure, so the chunk store, the SDK and the server cut and name the
 * same bytes identically; hosts with a faster BLAKE3 (the chunk store's native binding) pass their hasher in.
 */

import { PortableBlake3 } from "./_blake3-js.js";
import { BoundaryFinder } from "./_boundaries.js";
import { CHUNK_KEY } from "./params.js";

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

/** An incremental chunk namer: feed a chunk's bytes in any pieces, then take its name. */
export interface ChunkHasher {
  update(data: Uint8Array): void;
  /** The hex name of the bytes fed since the last digest; the hasher is then ready for the next chunk. */
  digest(): string;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lowercase hex of bytes (core runs where Buffer may not exist). */
export function toHex(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += HEX[byte]!;
  return text;
}

/** The pure-JavaScript chunk namer: byte-identical to the native BLAKE3 binding, several times slower. */
export function createPortableChunkHasher(): ChunkHasher {
  const hasher = new PortableBlake3(CHUNK_KEY);
  return {
    update: (data) => void hasher.update(data),
    digest: () => {
      const hex = toHex(hasher.digest());
      hasher.reset();
      return hex;
    },
  };
}

export interface ChunkerOptions {
  /**
   * Use the pure-JavaScript gear kernel instead of the WebAssembly one. Same output, several times slower;
   * for tests and for hosts where WebAssembly is disabled (it is chosen then anyway).
   */
  portable?: boolean;
  /** Names the chunks (default: the portable BLAKE3). */
  hasher?: ChunkHasher;
}

/**
 * A streaming chunker: `push` pieces of any size, then `finish`. Chunks come out as soon as their last byte
 * is known, named and with their place in the stream, but without bytes: the caller fed them and can slice
 * them (see `chunkBuffer` for chunks that carry their bytes).
 */
export class Chunker {
  private readonly finder: BoundaryFinder;
  private readonly hasher: ChunkHasher;
  /** Stream offset of the next byte pushed. */
  private position = 0;
  private chunkStart = 0;

  constructor(options: ChunkerOptions = {}) {
    this.finder = new BoundaryFinder(options);
    this.hasher = options.hasher ?? createPortableChunkHasher();
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
