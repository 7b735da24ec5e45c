import { createHash, randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { RunningSha256 } from "../dist/index.js";

const MiB = 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Adds `bytes` in pieces of the sizes given (cycled), waiting whenever the hasher asks to. */
async function feed(hasher: RunningSha256, bytes: Uint8Array, sizes: number[]): Promise<number> {
  let waits = 0;
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const piece = bytes.subarray(at, at + sizes[i % sizes.length]!);
    const behind = hasher.update(piece);
    if (behind) {
      waits++;
      await behind;
    }
    at += piece.length;
  }
  return waits;
}

describe("RunningSha256: a sha256 over pieces of ordinary memory, on a worker, with the digest so far", () => {
  it("gives the sha256 of the bytes added so far at every mark, and begins again on restart", async () => {
    const bytes = randomBytes(21 * MiB + 12_345);
    const hasher = new RunningSha256();
    try {
      // Pieces that straddle the 4 MiB blocks it sends, marks inside a block and on none at all.
      const first = bytes.subarray(0, 9 * MiB + 7);
      await feed(hasher, first, [65_536, 1, 200_003, 4 * MiB + 1]);
      const atFirst = hasher.mark();
      const again = hasher.mark(); // nothing added between two marks
      const second = bytes.subarray(first.length, 17 * MiB);
      await feed(hasher, second, [131_072, 77_777]);
      const atSecond = hasher.mark();
      hasher.restart();
      const third = bytes.subarray(17 * MiB);
      await feed(hasher, third, [MiB]);
      const atThird = hasher.mark();
      expect(await atFirst).toBe(sha256(first));
      expect(await again).toBe(sha256(first));
      expect(await atSecond).toBe(sha256(bytes.subarray(0, 17 * MiB)));
      expect(await atThird).toBe(sha256(third));
    } finally {
      hasher.release();
    }
  });

  it("copies what it is given: the caller may overwrite a piece as soon as update returns", async () => {
    const bytes = randomBytes(10 * MiB);
    const buffer = new Uint8Array(300_000);
    const hasher = new RunningSha256();
    try {
      for (let at = 0; at < bytes.length; at += buffer.length) {
        const piece = bytes.subarray(at, at + buffer.length);
        buffer.set(piece);
        const behind = hasher.update(buffer.subarray(0, piece.length));
        buffer.fill(0xee); // a hasher still reading the caller's memory would see this
        if (behind) await behind;
      }
      expect(await hasher.mark()).toBe(sha256(bytes));
    } finally {
      hasher.release();
    }
  });

  it("asks the caller to wait once several blocks are being hashed, and nothing is lost by waiting", async () => {
    const bytes = randomBytes(64 * MiB);
    const hasher = new RunningSha256();
    try {
      // Added at memory speed, far faster than a worker hashes: it must push back.
      const waits = await feed(hasher, bytes, [4 * MiB]);
      expect(waits).toBeGreaterThan(0);
      expect(await hasher.mark()).toBe(sha256(bytes));
    } finally {
      hasher.release();
    }
  });

  it("hashes on the calling thread once a worker per core is busy, with the same results", async () => {
    const hashers = Array.from({ length: availableParallelism() + 2 }, () => new RunningSha256());
    try {
      const inputs = hashers.map((_, i) => randomBytes(5 * MiB + i));
      await Promise.all(hashers.map((hasher, i) => feed(hasher, inputs[i]!, [1_000_000])));
      const digests = await Promise.all(hashers.map((hasher) => hasher.mark()));
      expect(digests).toEqual(inputs.map(sha256));
    } finally {
      for (const hasher of hashers) hasher.release();
    }
  });
});
