/**
 * @module The chunker: cuts bytes into content-defined chunks (Xet's gear boundaries) and names each one
 * (keyed BLAKE3), on the calling thread. Pure, so the chunk store, the SDK and the server cut and name the
 * same bytes identically; hosts with a faster BLAKE3 (the chunk store's native binding) pass their hasher in.
 */

import type { ChunkRef } from "../ports/chunks.js";
import { PortableBlake3 } from "./_blake3-js.js";
import { BoundaryFinder } from "./_boundaries.js";
import { couldEndChunk } from "./_gear-kernel.js";
import { ChunkGuide } from "./guide.js";
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
  /**
   * The chunk list of an earlier version of the bytes (as this chunker cut them). Where the bytes repeat it,
   * chunks are found by naming, not scanning (see ChunkGuide): the same chunks, with much less work.
   */
  previous?: readonly ChunkRef[];
}

/** Bytes scanned at a time while the guide is out of step: the most scanned past the cut that regains it. */
const SCAN_WINDOW = 64 * 1024;

/**
 * A streaming chunker: `push` pieces of any size, then `finish`. Chunks come out as soon as their last byte
 * is known, named and with their place in the stream, but without bytes: the caller fed them and can slice
 * them (see `chunkBuffer` for chunks that carry their bytes).
 */
export class Chunker {
  private readonly finder: BoundaryFinder;
  private readonly hasher: ChunkHasher;
  private readonly guide: ChunkGuide | undefined;
  /** Stream offset of the next byte pushed. */
  private position = 0;
  private chunkStart = 0;
  /** Bytes of the current stream cut by following `previous` rather than scanning. */
  private followed = 0;

  constructor(options: ChunkerOptions = {}) {
    this.finder = new BoundaryFinder(options);
    this.hasher = options.hasher ?? createPortableChunkHasher();
    if (options.previous && options.previous.length > 1) this.guide = new ChunkGuide(options.previous);
  }

  /** Feeds the next bytes of the stream; returns the chunks that end within them. */
  push(data: Uint8Array): Chunk[] {
    if (this.guide) return this.pushGuided(data, this.guide);
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

  /**
   * `push` along the guide: at each cut, the guessed chunk if its bytes are all here and carry its name;
   * otherwise a scan, a window at a time, until a cut chunk is in the list again.
   */
  private pushGuided(data: Uint8Array, guide: ChunkGuide): Chunk[] {
    const chunks: Chunk[] = [];
    /** Ends the open chunk at stream offset `end`, named by what the hasher was fed; returns its name. */
    const cut = (end: number): string => {
      const hash = this.hasher.digest();
      chunks.push({ hash, offset: this.chunkStart, length: end - this.chunkStart });
      this.chunkStart = end;
      return hash;
    };
    let at = 0;
    while (at < data.length) {
      const guess = this.position + at === this.chunkStart ? guide.guess : undefined;
      if (guess) {
        const bytes = data.subarray(at, at + guess.length);
        // A guess reaching past these bytes is scanned instead: the next push cannot go back to rescan them.
        if (bytes.length === guess.length && couldEndChunk(bytes)) {
          this.hasher.update(bytes);
          if (this.hasher.digest() === guess.hash) {
            chunks.push({ hash: guess.hash, offset: this.chunkStart, length: guess.length });
            this.chunkStart += guess.length;
            this.followed += guess.length;
            guide.advance();
            at += guess.length;
            continue;
          }
        }
        guide.lose(); // and scan the same bytes
      }
      const window = data.subarray(at, at + SCAN_WINDOW);
      let from = 0;
      let found = false;
      for (const end of this.finder.push(window)) {
        this.hasher.update(window.subarray(from, end));
        from = end;
        if (guide.follow(cut(this.position + at + end))) {
          // Back in step: the bytes the finder scanned past this cut are guessed again, from a fresh state.
          this.finder.reset();
          found = true;
          break;
        }
      }
      if (!found) {
        this.hasher.update(window.subarray(from));
        from = window.length;
      }
      at += from;
    }
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
    this.guide?.restart();
    this.followed = 0;
    this.position = 0;
    this.chunkStart = 0;
    return chunks;
  }

  /**
   * Bytes of the current stream cut by following `previous` (0 without it): how much like the earlier version
   * the bytes are so far, for a caller deciding whether following it pays.
   */
  get followedBytes(): number {
    return this.followed;
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
