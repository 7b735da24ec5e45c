import { describe, expect, it } from "vitest";
import { ReadAhead } from "../dist/chunking/_read-ahead.js";

/** Lets every settled promise's callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A file of `count` blocks (block i holds the byte i) whose reads finish when the test says so (or at once with
 * `instant`); it records the reads under way, the most at once, and the blocks given back.
 */
function fakeFile(count: number, finishAtOnce = false) {
  let instant = finishAtOnce;
  const reads: Array<Deferred<Uint8Array | undefined>> = [];
  const recycled: number[] = [];
  let issued = 0;
  let underWay = 0;
  let mostAtOnce = 0;
  const reader = {
    next(): Promise<Uint8Array | undefined> {
      const index = issued++;
      const read = deferred<Uint8Array | undefined>();
      reads.push(read);
      underWay++;
      mostAtOnce = Math.max(mostAtOnce, underWay);
      const done = read.promise.finally(() => underWay--);
      if (instant) read.resolve(index < count ? Uint8Array.of(index) : undefined);
      return done;
    },
    recycle(block: Uint8Array): void {
      recycled.push(block[0]!);
    },
  };
  const finish = (index: number) => reads[index]!.resolve(index < count ? Uint8Array.of(index) : undefined);
  return {
    reader,
    reads,
    recycled,
    finish,
    /** Finishes the reads under way, and every later one as soon as it is asked for. */
    finishAll(): void {
      instant = true;
      for (let index = 0; index < reads.length; index++) finish(index);
    },
    get mostAtOnce() {
      return mostAtOnce;
    },
  };
}

const start = (
  file: ReturnType<typeof fakeFile>,
  limits: { reads: number; blocks: number },
  arrived: (block: Uint8Array) => Promise<void>,
) => new ReadAhead(file.reader as unknown as ConstructorParameters<typeof ReadAhead>[0], limits, [], arrived);

/** `start`, noting the first byte of each block handed to the other work (its index in the file), in order. */
function startNoting(file: ReturnType<typeof fakeFile>, limits: { reads: number; blocks: number }) {
  const arrived: number[] = [];
  const ahead = start(file, limits, async (block) => {
    arrived.push(block[0]!);
  });
  return { ahead, arrived };
}

describe("reading ahead", () => {
  it("hands each block to the other work as soon as it is read, in file order, before the consumer takes any", async () => {
    const file = fakeFile(10, true);
    const { ahead, arrived } = startNoting(file, { reads: 2, blocks: 4 });
    await settle();
    // The consumer has taken nothing: reading stopped at the blocks allowed.
    expect(arrived).toEqual([0, 1, 2, 3]);
    const taken: number[] = [];
    for (let block = await ahead.next(); block; block = await ahead.next()) {
      taken.push(block[0]!);
      ahead.release(block);
    }
    await ahead.drain();
    expect(taken).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(arrived).toEqual(taken);
    await settle();
    expect(file.recycled.sort((a, b) => a - b)).toEqual(taken);
  });

  it("keeps its reads under way within the limit, and the file's order when reads finish out of order", async () => {
    const file = fakeFile(3);
    const { ahead, arrived } = startNoting(file, { reads: 2, blocks: 8 });
    await settle();
    expect(file.reads).toHaveLength(2);
    file.finish(1);
    await settle();
    expect(arrived).toEqual([]); // block 1 waits for block 0
    expect(file.reads).toHaveLength(3); // its place went to the next read
    file.finish(0);
    await settle();
    expect(arrived).toEqual([0, 1]);
    file.finishAll();
    const taken: number[] = [];
    for (let block = await ahead.next(); block; block = await ahead.next()) {
      taken.push(block[0]!);
      ahead.release(block);
    }
    expect(taken).toEqual([0, 1, 2]);
    expect(file.mostAtOnce).toBe(2);
  });

  it("refills a block only once both the consumer and the other work are done with it", async () => {
    const file = fakeFile(2, true);
    const hashing = [deferred<void>(), deferred<void>()];
    const ahead = start(file, { reads: 1, blocks: 2 }, (block) => hashing[block[0]!]!.promise);
    const first = (await ahead.next())!;
    ahead.release(first);
    await settle();
    expect(file.recycled).toEqual([]); // still being hashed
    hashing[1]!.resolve();
    await settle();
    expect(file.recycled).toEqual([]); // the other block is hashed, but not released by the consumer
    hashing[0]!.resolve();
    await settle();
    expect(file.recycled).toEqual([0]);
    // Only now was there room to read on: the end of the file.
    const second = (await ahead.next())!;
    expect(second[0]).toBe(1);
    ahead.release(second);
    expect(await ahead.next()).toBeUndefined();
    await ahead.drain();
    await settle();
    expect(file.recycled).toEqual([0, 1]);
  });

  it("once stopped, reads nothing more and gives the blocks still arriving to no other work", async () => {
    const file = fakeFile(5);
    const { ahead, arrived } = startNoting(file, { reads: 2, blocks: 4 });
    await settle();
    file.finish(0);
    await settle();
    expect(arrived).toEqual([0]);
    ahead.stop(); // the consumer gave up (and let the hashing worker go)
    file.finish(1);
    file.finish(2);
    await settle();
    expect(arrived).toEqual([0]);
    expect(file.reads).toHaveLength(3);
  });

  it("gives a failed read to the consumer and reads nothing more", async () => {
    const file = fakeFile(5);
    const ahead = start(file, { reads: 2, blocks: 4 }, async () => {});
    await settle();
    file.finish(0);
    file.reads[1]!.reject(new Error("disk on fire"));
    await settle();
    const issued = file.reads.length;
    const first = (await ahead.next())!;
    expect(first[0]).toBe(0);
    ahead.release(first);
    await expect(ahead.next()).rejects.toThrow("disk on fire");
    await settle();
    expect(file.reads.length).toBe(issued);
  });
});
