/**
 * @module The two ends of `chunkStream`'s pipeline: a reader that packs the source's pieces into
 * fixed-size shared blocks (workers read them without copies), and an assembler that hands out each
 * chunk's bytes as a view of its block, copying only the few chunks that straddle two blocks.
 */

import type { Chunk, ChunkWithData } from "./chunker.js";

export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export class BlockReader {
  private readonly pieces: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  private rest: Uint8Array = new Uint8Array(0);
  private exhausted = false;

  constructor(
    source: ByteSource,
    private readonly blockSize: number,
  ) {
    this.pieces = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  }

  /**
   * The next block: full except the last, undefined at the end. Blocks are never reused, so views of them
   * stay valid for as long as the consumer keeps them. A source piece is copied before the next one is
   * requested, so sources that reuse one read buffer are safe.
   */
  async next(): Promise<Uint8Array | undefined> {
    let block: Uint8Array | undefined;
    let filled = 0;
    while (filled < this.blockSize) {
      if (this.rest.length === 0) {
        if (this.exhausted) break;
        const piece = await this.pieces.next();
        if (piece.done) {
          this.exhausted = true;
          break;
        }
        this.rest = piece.value;
        continue;
      }
      block ??= new Uint8Array(new SharedArrayBuffer(this.blockSize));
      const take = Math.min(this.rest.length, this.blockSize - filled);
      block.set(this.rest.subarray(0, take), filled);
      this.rest = this.rest.subarray(take);
      filled += take;
    }
    return block?.subarray(0, filled);
  }

  /** Lets the source release what it holds (an open file) when the consumer stops early. */
  async close(): Promise<void> {
    if (!this.exhausted) {
      this.exhausted = true;
      await this.pieces.return?.();
    }
  }
}

export class ChunkAssembler {
  /** Blocks not yet fully handed out, in stream order, each with its stream offset. */
  private readonly held: Array<{ start: number; bytes: Uint8Array }> = [];
  private end = 0;

  add(bytes: Uint8Array): void {
    this.held.push({ start: this.end, bytes });
    this.end += bytes.length;
  }

  /** The chunk with its bytes; chunks must be taken in order, after the blocks holding them were added. */
  take(chunk: Chunk): ChunkWithData {
    const chunkEnd = chunk.offset + chunk.length;
    const first = this.held[0];
    if (!first || chunk.offset < first.start || chunkEnd > this.end) {
      throw new Error(`chunk ${chunk.offset}+${chunk.length} is outside the blocks read`);
    }
    let data: Uint8Array;
    if (chunkEnd <= first.start + first.bytes.length) {
      data = first.bytes.subarray(chunk.offset - first.start, chunkEnd - first.start);
    } else {
      data = new Uint8Array(chunk.length);
      for (const { start, bytes } of this.held) {
        if (start >= chunkEnd) break;
        const from = Math.max(chunk.offset, start) - start;
        const to = Math.min(chunkEnd, start + bytes.length) - start;
        data.set(bytes.subarray(from, to), start + from - chunk.offset);
      }
    }
    while (this.held.length > 0 && this.held[0]!.start + this.held[0]!.bytes.length <= chunkEnd) this.held.shift();
    return { ...chunk, data };
  }
}
