/**
 * The in-order hashing of a session's packs: a pack that arrives before the one ahead of it waits for it in a
 * server that takes every pack of the session, and does not in a worker of several, where the pack ahead may
 * have gone to another worker and would never come.
 */
import { createHash, randomBytes } from "node:crypto";
import { chunkHash } from "@cairn/storage";
import { describe, expect, it } from "vitest";
import { SessionArrivals } from "../dist/routes/transfer-arrivals.js";

const chunk = (bytes: Buffer) => ({ hash: chunkHash(bytes), bytes });

describe("a session's arrivals", () => {
  it("hash a pack that came early once the one ahead of it has ended, and name the file they make", async () => {
    const arrivals = new SessionArrivals();
    const [a, b] = [chunk(randomBytes(1000)), chunk(randomBytes(2000))];
    const second = arrivals.begin(2);
    let secondBegun = false;
    void second.then(() => {
      secondBegun = true;
    });
    expect(await arrivals.begin(1)).toBe(true);
    arrivals.add(a.hash, [a.bytes]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(secondBegun).toBe(false); // pack 1 is still arriving
    arrivals.ended(true);
    expect(await second).toBe(true);
    arrivals.add(b.hash, [b.bytes]);
    arrivals.ended(true);
    const sha256 = createHash("sha256").update(a.bytes).update(b.bytes).digest("hex");
    const file = { size: 3000, chunks: [a, b].map((c) => ({ hash: c.hash, length: c.bytes.length })) };
    expect(await arrivals.fileOf(file)).toEqual({ sha256, stored: false });
  });

  it("name each of two large files, the second hashed from the pack that begins it, across several packs", async () => {
    const arrivals = new SessionArrivals();
    const refs = (chunks: { hash: string; bytes: Buffer }[]) => ({
      size: chunks.reduce((sum, c) => sum + c.bytes.length, 0),
      chunks: chunks.map((c) => ({ hash: c.hash, length: c.bytes.length })),
    });
    const sha256 = (chunks: { bytes: Buffer }[]) => {
      const hash = createHash("sha256");
      for (const c of chunks) hash.update(c.bytes);
      return hash.digest("hex");
    };
    // Five MiB chunks: more than one of the blocks the hashing worker is sent.
    const first = [0, 1, 2, 3, 4].map(() => chunk(randomBytes(1024 * 1024 + 17)));
    const second = [0, 1, 2].map(() => chunk(randomBytes(3 * 1024 * 1024 + 5)));
    // A pack as the server takes it: its chunks added, then handed on once checked, in order, with their bytes.
    const pack = async (n: number, chunks: { hash: string; bytes: Buffer }[], startsFile = false) => {
      expect(await arrivals.begin(n, startsFile)).toBe(true);
      for (const c of chunks) arrivals.add(c.hash, [c.bytes.subarray(0, 100), c.bytes.subarray(100)]);
      const checked = await arrivals.take(true);
      expect(checked.bad).toBeUndefined();
      expect(checked.chunks.map((c) => c.hash)).toEqual(chunks.map((c) => c.hash));
      const same = checked.chunks.map((c, k) => Buffer.from(c.data as Uint8Array).equals(chunks[k]!.bytes));
      expect(same).toEqual(chunks.map(() => true));
      arrivals.ended(true);
    };
    try {
      await pack(1, first.slice(0, 3), true);
      await pack(2, first.slice(3));
      await pack(3, second, true);
      arrivals.stored(3);
      expect(await arrivals.fileOf(refs(first))).toEqual({ sha256: sha256(first), stored: false });
      expect(await arrivals.fileOf(refs(first.slice(0, 3)))).toEqual({
        sha256: sha256(first.slice(0, 3)),
        stored: false,
      });
      expect(await arrivals.fileOf(refs(second))).toEqual({ sha256: sha256(second), stored: true });
      // Not a run from a pack that began a file: read back instead.
      expect(await arrivals.fileOf(refs(first.slice(3)))).toBeUndefined();
    } finally {
      arrivals.release();
    }
  });

  it("a pack out of order stops the tracking, and the pack arriving then still has every chunk checked", async () => {
    const arrivals = new SessionArrivals();
    const [a, b] = [chunk(randomBytes(70_000)), chunk(randomBytes(90_000))];
    const bad = { hash: chunkHash(randomBytes(10)), bytes: randomBytes(5000) };
    expect(await arrivals.begin(1)).toBe(true);
    arrivals.add(a.hash, [a.bytes]);
    // Far ahead of the pack arriving (more than MAX_AHEAD): the session is no longer tracked.
    expect(await arrivals.begin(9)).toBe(false);
    arrivals.add(b.hash, [b.bytes]);
    arrivals.add(bad.hash, [bad.bytes]);
    const checked = await arrivals.take(true);
    expect(checked.chunks.map((c) => c.hash)).toEqual([a.hash, b.hash]);
    expect(checked.bad).toBe(bad.hash);
    arrivals.ended(false);
    expect(await arrivals.begin(2)).toBe(false);
    expect(
      await arrivals.fileOf({ size: 70_000, chunks: [{ hash: a.hash, length: 70_000 }] }),
    ).toBeUndefined();
  });

  it("with no packs to wait behind (a worker of several), stop at once at a pack out of order", async () => {
    const arrivals = new SessionArrivals(0);
    expect(await arrivals.begin(2)).toBe(false);
    // Stopped for good: the session's files are read back instead.
    expect(await arrivals.begin(1)).toBe(false);
    const a = chunk(randomBytes(1000));
    arrivals.ended(true);
    expect(await arrivals.fileOf({ size: 1000, chunks: [{ hash: a.hash, length: 1000 }] })).toBeUndefined();
  });
});
