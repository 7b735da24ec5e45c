/**
 * The in-order hashing of a session's packs: a pack that arrives before the one ahead of it waits for it in a
 * server that takes every pack of the session, and does not in a worker of several, where the pack ahead may
 * have gone to another worker and would never come.
 */
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SessionArrivals } from "../dist/routes/transfer-arrivals.js";

const chunk = (bytes: Buffer) => ({ hash: createHash("sha256").update(bytes).digest("hex"), bytes });

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
    expect(arrivals.fileOf(file)).toEqual({ sha256, stored: false });
  });

  it("with no packs to wait behind (a worker of several), stop at once at a pack out of order", async () => {
    const arrivals = new SessionArrivals(0);
    expect(await arrivals.begin(2)).toBe(false);
    // Stopped for good: the session's files are read back instead.
    expect(await arrivals.begin(1)).toBe(false);
    const a = chunk(randomBytes(1000));
    arrivals.add(a.hash, [a.bytes]);
    arrivals.ended(true);
    expect(arrivals.fileOf({ size: 1000, chunks: [{ hash: a.hash, length: 1000 }] })).toBeUndefined();
  });
});
