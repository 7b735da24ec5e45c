/**
 * @module A bounded in-memory pipe: the producer awaits `push` when too many bytes are waiting, the consumer
 * reads it as an async iterable. It lets a pack stream into the blob store while the next chunks are being
 * cut, without ever holding a whole pack in memory.
 */

const MERGE_BYTES = 4 * 1024 * 1024;

interface Item {
  bytes: Uint8Array;
  /** Called once the consumer has asked for what follows these bytes (see `push`). */
  consumed: (() => void) | undefined;
}

export class ByteChannel implements AsyncIterable<Uint8Array> {
  private readonly items: Item[] = [];
  private queued = 0;
  private closed = false;
  private failure: unknown = undefined;
  private wakeReader: (() => void) | undefined;
  private wakeWriters: Array<() => void> = [];

  constructor(private readonly highWaterBytes: number) {}

  /**
   * Queues bytes; resolves once the queue is below the high-water mark again. Rejects if the reader failed.
   * `consumed` is called when the consumer asks for the bytes after these: a consumer that is done with each
   * piece by then (the local blob store's writer) lets the producer reuse the memory.
   */
  async push(bytes: Uint8Array, consumed?: () => void): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.closed) throw new Error("push after close");
    this.items.push({ bytes, consumed });
    this.queued += bytes.byteLength;
    this.wakeReader?.();
    while (this.queued > this.highWaterBytes && this.failure === undefined) {
      await new Promise<void>((resolve) => this.wakeWriters.push(resolve));
    }
    if (this.failure !== undefined) throw this.failure;
  }

  close(): void {
    this.closed = true;
    this.wakeReader?.();
  }

  /** Called when the consumer gives up, so a waiting producer fails instead of hanging. */
  fail(error: unknown): void {
    this.failure = error;
    this.wakeReader?.();
    for (const wake of this.wakeWriters.splice(0)) wake();
  }

  /**
   * Yields what is queued in writes of up to MERGE_BYTES (one 64 KiB write per chunk would cost a system call
   * each). Pieces that lie back to back in one buffer (the chunks of one block of the file, as the chunker hands
   * them out) are joined into one view of it, without a copy; only small leftovers are copied together. A failed
   * channel throws, so the consumer never completes a partial object.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      if (this.items.length > 0) {
        const take: Item[] = [];
        let bytes = 0;
        while (
          this.items.length > 0 &&
          (take.length === 0 || bytes + this.items[0]!.bytes.byteLength <= MERGE_BYTES)
        ) {
          const item = this.items.shift()!;
          take.push(item);
          bytes += item.bytes.byteLength;
        }
        this.queued -= bytes;
        if (this.queued <= this.highWaterBytes) for (const wake of this.wakeWriters.splice(0)) wake();
        yield* coalesce(take.map((item) => item.bytes));
        for (const item of take) item.consumed?.();
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        this.wakeReader = resolve;
      });
      this.wakeReader = undefined;
    }
  }
}

// A run of adjacent pieces at least this long is written as it is; shorter runs are copied together.
const DIRECT_BYTES = 512 * 1024;

/** The same bytes in the same order, as few pieces as possible, copying only runs shorter than DIRECT_BYTES. */
export function* coalesce(pieces: Uint8Array[]): Generator<Uint8Array> {
  const runs: Uint8Array[] = [];
  for (const piece of pieces) {
    const last = runs[runs.length - 1];
    if (last && last.buffer === piece.buffer && last.byteOffset + last.byteLength === piece.byteOffset) {
      runs[runs.length - 1] = new Uint8Array(
        last.buffer,
        last.byteOffset,
        last.byteLength + piece.byteLength,
      );
    } else {
      runs.push(piece);
    }
  }
  let small: Uint8Array[] = [];
  let smallBytes = 0;
  const flush = (): Uint8Array => {
    const joined = small.length === 1 ? small[0]! : Buffer.concat(small, smallBytes);
    small = [];
    smallBytes = 0;
    return joined;
  };
  for (const run of runs) {
    if (run.byteLength >= DIRECT_BYTES) {
      if (small.length > 0) yield flush();
      yield run;
    } else {
      small.push(run);
      smallBytes += run.byteLength;
    }
  }
  if (small.length > 0) yield flush();
}
