/**
 * @module How chunks travel over HTTP, both ways (a push's pack upload, a pull's chunk fetch): frames back to
 * back, each the chunk's 32-byte BLAKE3 name, its length as a big-endian u32, then its bytes. Self-delimiting,
 * so either side handles a body as it streams, and a body cut short still ends after its last whole chunk.
 * Pure: the server and the SDK share this one codec, and the limits both sides keep.
 *
 *   body  = frame*
 *   frame = hash (32 bytes) | length (u32 BE, 1 … MAX_CHUNK_SIZE) | data (length bytes)
 */

import { invalid } from "../errors.js";
import { toHex } from "./chunker.js";
import { MAX_CHUNK_SIZE } from "./params.js";

/** The media type of a body of chunk frames. */
export const CHUNK_FRAMES_TYPE = "application/vnd.cairn.chunks";
export const FRAME_HEADER_SIZE = 36;

/** What one transfer request may carry; the server refuses more, the SDK never sends more. */
export const TRANSFER_LIMITS = {
  /** Hashes per `chunks/missing` question. */
  missingHashes: 10_000,
  /** Hashes per `chunks/fetch` (at most 256 MiB of chunks, 128 MiB on average). */
  fetchHashes: 2_048,
  /** Bytes of one pack upload body (chunks and frame headers). */
  packBodyBytes: 128 * 1024 * 1024,
  /** Chunks in one file's chunk list (a 64 GiB file, at the average chunk size). */
  contentChunks: 1 << 20,
} as const;

/** A chunk as it arrives: its claimed name and its bytes (not yet checked against each other). */
export interface FramedChunk {
  hash: string;
  data: Uint8Array;
}

/**
 * A chunk as it arrives, its bytes as the pieces of the body they came in (views, in order, joined by none):
 * for a receiver that hashes and stores the bytes as they are, without a copy per chunk.
 */
export interface FramedParts {
  hash: string;
  parts: Uint8Array[];
  length: number;
}

/** The value of each lowercase hex digit by its character code; -1 for any other character. */
const HEX_DIGIT = new Int8Array(128).fill(-1);
for (let d = 0; d < 16; d++) HEX_DIGIT["0123456789abcdef".charCodeAt(d)] = d;

/**
 * The 36 bytes that introduce a chunk of `length` bytes named `hash` (64 lowercase hex digits), written into
 * `target` at `at` if given (a push frames every chunk straight into its pack body), else into new memory.
 */
export function frameHeader(hash: string, length: number, target?: Uint8Array, at = 0): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > MAX_CHUNK_SIZE) {
    throw invalid(`a chunk is 1 to ${MAX_CHUNK_SIZE} bytes, not ${length}`);
  }
  const header = target ?? new Uint8Array(FRAME_HEADER_SIZE);
  // By a table, not a regular expression and parseInt per byte: a push frames every chunk of every file.
  let bad = hash.length !== 64;
  for (let i = 0; i < 32 && !bad; i++) {
    const high = HEX_DIGIT[hash.charCodeAt(2 * i)] ?? -1;
    const low = HEX_DIGIT[hash.charCodeAt(2 * i + 1)] ?? -1;
    bad = high < 0 || low < 0;
    header[at + i] = (high << 4) | low;
  }
  if (bad) throw invalid(`a chunk name must be 64 lowercase hex digits, not ${hash}`);
  const n = at + 32;
  header[n] = length >>> 24;
  header[n + 1] = (length >>> 16) & 0xff;
  header[n + 2] = (length >>> 8) & 0xff;
  header[n + 3] = length & 0xff;
  return target ? header.subarray(at, at + FRAME_HEADER_SIZE) : header;
}

/**
 * Reads frames from a body fed in pieces of any size. The caller must not reuse pieces: chunks are views of
 * them. `push` hands out each chunk's bytes in one array (a chunk that straddles pieces is copied together);
 * `pushParts` hands out the views as they are.
 */
export class FrameReader {
  private readonly header = new Uint8Array(FRAME_HEADER_SIZE);
  private headerFilled = 0;
  private hash = "";
  /** Length of the chunk being read, or -1 while reading a header. */
  private length = -1;
  private parts: Uint8Array[] = [];
  private filled = 0;

  /** The chunks completed by `piece`, in order. Throws INVALID on a malformed header. */
  push(piece: Uint8Array): FramedChunk[] {
    return this.pushParts(piece).map(({ hash, parts, length }) => ({
      hash,
      data: parts.length === 1 ? (parts[0] as Uint8Array) : joinParts(parts, length),
    }));
  }

  /** The chunks completed by `piece`, in order, as views of the pieces. Throws INVALID on a malformed header. */
  pushParts(piece: Uint8Array): FramedParts[] {
    const out: FramedParts[] = [];
    let at = 0;
    while (at < piece.length) {
      if (this.length < 0) {
        const take = Math.min(FRAME_HEADER_SIZE - this.headerFilled, piece.length - at);
        this.header.set(piece.subarray(at, at + take), this.headerFilled);
        this.headerFilled += take;
        at += take;
        if (this.headerFilled < FRAME_HEADER_SIZE) break;
        this.startChunk();
        if (at === piece.length) break; // the chunk's bytes start in the next piece
      }
      const take = Math.min(this.length - this.filled, piece.length - at);
      this.parts.push(piece.subarray(at, at + take));
      this.filled += take;
      at += take;
      if (this.filled === this.length) {
        out.push({ hash: this.hash, parts: this.parts, length: this.length });
        this.length = -1;
        this.parts = [];
        this.filled = 0;
      }
    }
    return out;
  }

  /** True between frames: a body that ends now ended cleanly. */
  get atBoundary(): boolean {
    return this.length < 0 && this.headerFilled === 0;
  }

  /** Ends the body: INVALID if it stopped inside a frame. */
  end(): void {
    if (!this.atBoundary) throw invalid("the chunk stream ends inside a chunk");
  }

  private startChunk(): void {
    const length = new DataView(this.header.buffer).getUint32(32, false);
    if (length < 1 || length > MAX_CHUNK_SIZE) {
      throw invalid(`a chunk frame declares ${length} bytes: a chunk is 1 to ${MAX_CHUNK_SIZE} bytes`);
    }
    this.hash = toHex(this.header.subarray(0, 32));
    this.length = length;
    this.headerFilled = 0;
    this.filled = 0;
    this.parts = [];
  }
}

function joinParts(parts: Uint8Array[], length: number): Uint8Array {
  const data = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    data.set(part, at);
    at += part.byteLength;
  }
  return data;
}
