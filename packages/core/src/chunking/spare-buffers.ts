/**
 * @module Buffers of one size kept for reuse by whoever moves chunk bytes in bulk (a push's packs,
 * a pack writer's pieces). Fresh memory costs a page fault per 4 KiB, and V8 answers the
 * growth of memory outside its heap with full garbage collections: for a pipeline that moves a GiB through
 * 1–16 MiB buffers, together they cost as much as moving the bytes.
 */
export class SpareBuffers {
  private readonly spare: Buffer[] = [];

  /**
   * @param keep how many given back are kept; the rest are left to the garbage collector.
   * @param allocate makes a new buffer of `size` bytes when none is spare (default: unzeroed fresh memory).
   */
  constructor(
    readonly size: number,
    private readonly keep: number,
    private readonly allocate: (size: number) => Buffer = Buffer.allocUnsafeSlow,
  ) {}

  /** A buffer of `size` bytes, unzeroed: the caller writes every byte it hands on. */
  take(): Buffer {
    return this.spare.pop() ?? this.allocate(this.size);
  }

  /** Gives back a buffer from `take` that nobody reads any more. */
  give(buffer: Buffer): void {
    if (this.spare.length < this.keep) this.spare.push(buffer);
  }
}
