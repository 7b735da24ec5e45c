/**
 * @module A file's next blocks, read ahead of the thread that uses them and handed to other work (the
 * whole-file hash on a worker) as soon as each arrives. Neither the disk nor that work then waits for the
 * using thread, nor for each other beyond the blocks held: a block is refilled only once both are done with it.
 */
import type { BlockReader } from "./_blocks.js";

export interface ReadAheadLimits {
  /** Reads under way at once. */
  reads: number;
  /** Blocks held in all: being read, read and waiting, in use, or still in the other work. */
  blocks: number;
}

export class ReadAhead {
  /** The blocks in file order (undefined: the end), as promises, to be taken by `next`. */
  private readonly queue: Promise<Uint8Array | undefined>[] = [];
  /** Settles when the last block asked for has arrived and gone to `arrived`; keeps them in file order. */
  private ordered: Promise<unknown> = Promise.resolve();
  /** Per block handed out: when `arrived`'s work on it is done. */
  private readonly work = new Map<Uint8Array, Promise<void>>();
  private reading = 0;
  private held = 0;
  private ended = false;
  /** The caller stopped early: blocks still arriving go to no other work (it may have been let go). */
  private stopped = false;
  private wake: (() => void) | undefined;

  /**
   * @param first blocks the caller has read already, first of the file.
   * @param arrived called with each block, in file order, once read; the block is kept until it settles.
   */
  constructor(
    private readonly reader: BlockReader,
    private readonly limits: ReadAheadLimits,
    first: Uint8Array[],
    private readonly arrived: (block: Uint8Array) => Promise<void>,
  ) {
    for (const block of first) this.enqueue(Promise.resolve(block));
    this.fill();
  }

  /** The next block in file order; undefined at the end. */
  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      const head = this.queue.shift();
      if (head) return head;
      if (this.ended) return undefined;
      // Every block is held (used or still in the other work): one is released soon, and reading goes on.
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** The caller is done with `block` (from `next`): it is refilled once `arrived`'s work on it is done too. */
  release(block: Uint8Array): void {
    const work = this.work.get(block) ?? Promise.resolve();
    this.work.delete(block);
    void work
      .catch(() => {}) // reported where the other work's result is awaited
      .then(() => {
        this.reader.recycle(block);
        this.held--;
        this.fill();
      });
  }

  /** Waits for reads still under way (past the end, they find nothing) and for `arrived`'s work on every block. */
  async drain(): Promise<void> {
    this.ended = true;
    await Promise.all(this.queue.splice(0));
    await Promise.all(this.work.values());
  }

  /** Reads nothing more (the caller stopped early); blocks still read or worked on are left to the collector. */
  stop(): void {
    this.ended = true;
    this.stopped = true;
  }

  private fill(): void {
    while (!this.ended && this.reading < this.limits.reads && this.held < this.limits.blocks) {
      this.reading++;
      const read = this.reader.next();
      const settled = (): void => {
        this.reading--;
        this.fill();
      };
      read.then(settled, settled);
      this.enqueue(read);
    }
  }

  private enqueue(read: Promise<Uint8Array | undefined>): void {
    this.held++;
    const inOrder = this.ordered.then(() => read);
    const arrived = inOrder.then(
      (block) => {
        if (block) {
          if (!this.stopped) this.work.set(block, this.arrived(block));
        } else {
          // The end (the reader gave back the block it found nothing for).
          this.ended = true;
          this.held--;
        }
        return block;
      },
      (error: unknown) => {
        this.ended = true;
        throw error;
      },
    );
    arrived.catch(() => {}); // thrown to whoever takes it from the queue
    this.ordered = arrived.catch(() => {});
    this.queue.push(arrived);
    this.wake?.();
    this.wake = undefined;
  }
}
