/**
 * @module The two ends of `chunkStream`'s pipeline: a reader that packs the source's pieces into reusable
 * shared blocks (worker threads read them without copies), and an assembler that turns cut positions into
 * chunks with their bytes.
 */

import { copyBytes } from "@cairn/core";
import { pageAlignedSharedPieces } from "../fs/direct-io.js";
import type { Chunk, ChunkWithData } from "./chunker.js";
import { FileSource } from "./file-source.js";

export type ChunkStreamSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * Spare blocks, kept between streams. They are reused rather than allocated per block because a fresh
 * SharedArrayBuffer is fresh memory: faulting its pages in (and unmapping them after garbage collection)
 * cost more than all of chunking in measurements, several times over once worker threads run beside it.
 */
const spares = new Map<number, Uint8Array[]>();
const MAX_SPARE_BYTES = 32 * 1024 * 1024;
let spareBytes = 0;
/** Page-aligned blocks, per block size, for reads straight from the disk (see FileReader). */
const alignedBlocks = new Map<number, () => Uint8Array>();

function takeBlock(size: number): Uint8Array {
  const spare = spares.get(size)?.pop();
  if (spare) {
    spareBytes -= size;
    return spare;
  }
  let take = alignedBlocks.get(size);
  if (!take) {
    take = pageAlignedSharedPieces(size);
    alignedBlocks.set(size, take);
  }
  return take();
}

export class BlockReader {
  private readonly pieces: AsyncIterator<Uint8Array> | Iterator<Uint8Array> | undefined;
  /** A file, read straight into the blocks: one copy of the file fewer than taking its pieces. */
  private readonly file: FileSource | undefined;
  private rest: Uint8Array = new Uint8Array(0);
  private exhausted = false;

  constructor(
    source: ChunkStreamSource,
    private readonly blockSize: number,
  ) {
    if (source instanceof FileSource) this.file = source;
    else
      this.pieces =
        Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  }

  /** How many `next` calls may be under way at once: a file's reads may overlap, a stream's pieces may not. */
  get readsAtOnce(): number {
    return this.file ? Number.POSITIVE_INFINITY : 1;
  }

  /**
   * The next block: full except the last, undefined at the end. A source piece is copied before the next one
   * is requested, so sources that reuse one read buffer are safe.
   */
  async next(): Promise<Uint8Array | undefined> {
    if (this.file) return this.fill(this.file);
    let block: Uint8Array | undefined;
    let filled = 0;
    while (filled < this.blockSize) {
      if (this.rest.length === 0) {
        if (this.exhausted) break;
        const piece = await this.pieces!.next();
        if (piece.done) {
          this.exhausted = true;
          break;
        }
        this.rest = piece.value;
        continue;
      }
      block ??= takeBlock(this.blockSize);
      const take = Math.min(this.rest.length, this.blockSize - filled);
      copyBytes(block, filled, this.rest.subarray(0, take));
      this.rest = this.rest.subarray(take);
      filled += take;
    }
    return block?.subarray(0, filled);
  }

  private async fill(file: FileSource): Promise<Uint8Array | undefined> {
    if (this.exhausted) return undefined;
    const block = takeBlock(this.blockSize);
    const filled = await file.readInto(block);
    if (filled < block.length) this.exhausted = true;
    if (filled > 0) return block.subarray(0, filled);
    this.recycle(block);
    return undefined;
  }

  /** Gives a block back for reuse; nothing may read it afterwards (no worker, no view handed out). */
  recycle(block: Uint8Array): void {
    // The whole block, also when the last one was handed out shorter.
    const whole = new Uint8Array(block.buffer, block.byteOffset, this.blockSize);
    if (spareBytes + this.blockSize > MAX_SPARE_BYTES) return;
    const list = spares.get(this.blockSize) ?? [];
    list.push(whole);
    spares.set(this.blockSize, list);
    spareBytes += this.blockSize;
  }

  /** Lets the source release what it holds (an open file) when the consumer stops early. */
  async close(): Promise<void> {
    if (this.file) await this.file.close();
    else if (!this.exhausted) await this.pieces!.return?.();
    this.exhausted = true;
  }
}

/**
 * Turns chunk positions into chunks with bytes. Use: `enter` a block, `take` the chunks that end in it,
 * `leave` it; `take` the last chunk after the last block.
 *
 * Owned mode copies each block once into fresh memory and hands out views of that copy, so the block can be
 * refilled at once while the consumer keeps its chunks. (One copy per block, not one per chunk: every fresh
 * allocation costs page faults, and per-chunk copies ran at half the speed.) Transient mode hands out views
 * of the block itself, which the reader refills once the consumer moves on.
 */
export class ChunkAssembler {
  private block: Uint8Array = new Uint8Array(0);
  private blockStart = 0;
  /** Stream offset where the open (not yet taken) chunk starts. */
  private open = 0;
  /** The open chunk's bytes from blocks already left. */
  private carry: Uint8Array[] = [];
  private carried = 0;

  constructor(private readonly owned: boolean) {}

  enter(block: Uint8Array): void {
    if (this.owned) {
      // Unzeroed memory: every byte is overwritten at once, so zero-filling 4 MiB per block is wasted.
      const copy = Buffer.allocUnsafeSlow(block.length);
      copyBytes(copy, 0, block);
      this.block = new Uint8Array(copy.buffer, copy.byteOffset, copy.length);
    } else {
      this.block = block;
    }
  }

  take(chunk: Chunk): ChunkWithData {
    const end = chunk.offset + chunk.length;
    if (chunk.offset !== this.open || end > this.blockStart + this.block.length) {
      throw new Error(`chunk ${chunk.offset}+${chunk.length} is not the next one in the bytes read`);
    }
    const inBlock = this.block.subarray(Math.max(this.open - this.blockStart, 0), end - this.blockStart);
    let data = inBlock;
    if (this.carried > 0) {
      data = new Uint8Array(chunk.length);
      let at = 0;
      for (const part of [...this.carry, inBlock]) {
        data.set(part, at);
        at += part.length;
      }
      this.carry = [];
      this.carried = 0;
    }
    this.open = end;
    return { ...chunk, data };
  }

  leave(): void {
    const rest = this.block.subarray(Math.max(this.open - this.blockStart, 0));
    if (rest.length > 0) {
      this.carry.push(this.owned ? rest : rest.slice());
      this.carried += rest.length;
    }
    this.blockStart += this.block.length;
    this.block = new Uint8Array(0);
  }
}
