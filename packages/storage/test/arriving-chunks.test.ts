import { createHash, randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { ArrivingChunks, type CheckedChunks, chunkBuffer, chunkHash } from "../dist/index.js";

const MiB = 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const bytesOf = (data: Uint8Array | readonly Uint8Array[]) =>
  Buffer.concat((data instanceof Uint8Array ? [data] : data).map((d) => Buffer.from(d)));

/** `bytes` cut into chunks as a push would send them, each named. */
function chunksOf(bytes: Uint8Array): { hash: string; data: Uint8Array }[] {
  return chunkBuffer(bytes).map((c) => ({ hash: c.hash, data: c.data }));
}

/**
 * Adds the chunks, each as two parts (as they straddle a body's pieces), taking what is checked after every few
 * as a server does; returns what was handed on, copied (the views are valid only until the next take).
 */
async function pass(arriving: ArrivingChunks, chunks: { hash: string; data: Uint8Array }[]) {
  const handedOn: { hash: string; bytes: Buffer }[] = [];
  let bad: string | undefined;
  const keep = (checked: CheckedChunks) => {
    for (const c of checked.chunks) handedOn.push({ hash: c.hash, bytes: bytesOf(c.data) });
    bad ??= checked.bad;
  };
  for (const [i, c] of chunks.entries()) {
    arriving.add(c.hash, [c.data.subarray(0, 10), c.data.subarray(10)]);
    if (i % 7 === 6) keep(await arriving.take(false));
  }
  keep(await arriving.take(true));
  return { handedOn, bad };
}

describe("ArrivingChunks: chunks checked against their names and hashed in order, on a worker", () => {
  it("hands on every chunk with its bytes, in order, and gives the sha256 of the run at each mark and after a restart", async () => {
    const bytes = randomBytes(13 * MiB + 999);
    const first = bytes.subarray(0, 5 * MiB);
    const arriving = new ArrivingChunks();
    try {
      const a = chunksOf(first);
      const passed = await pass(arriving, a);
      expect(passed.bad).toBeUndefined();
      expect(passed.handedOn.map((c) => c.hash)).toEqual(a.map((c) => c.hash));
      expect(Buffer.concat(passed.handedOn.map((c) => c.bytes)).equals(first)).toBe(true);
      const atFirst = arriving.mark();
      const rest = bytes.subarray(first.length);
      await pass(arriving, chunksOf(rest));
      const atAll = arriving.mark();
      arriving.restart();
      const again = bytes.subarray(0, 2 * MiB);
      await pass(arriving, chunksOf(again));
      expect(await atFirst).toBe(sha256(first));
      expect(await atAll).toBe(sha256(bytes));
      expect(await arriving.mark()).toBe(sha256(again));
    } finally {
      arriving.release();
    }
  });

  it("stops at a chunk whose bytes do not match its name: those before it are handed on, none after", async () => {
    const chunks = chunksOf(randomBytes(8 * MiB));
    const at = Math.floor(chunks.length / 2);
    const damaged = Buffer.from(chunks[at]!.data);
    damaged[7] = (damaged[7]! + 1) & 0xff;
    const sent = chunks.map((c, i) => (i === at ? { hash: c.hash, data: damaged } : c));
    const arriving = new ArrivingChunks();
    try {
      const passed = await pass(arriving, sent);
      expect(passed.bad).toBe(chunks[at]!.hash);
      expect(passed.handedOn.map((c) => c.hash)).toEqual(chunks.slice(0, at).map((c) => c.hash));
      // Nothing more is handed on afterwards.
      arriving.add(chunks[0]!.hash, [chunks[0]!.data]);
      expect(await arriving.take(true)).toEqual({ chunks: [], bad: undefined });
    } finally {
      arriving.release();
    }
  });

  it("copies what it is given: the caller may overwrite a chunk's memory as soon as add returns", async () => {
    const bytes = randomBytes(6 * MiB);
    const chunks = chunksOf(bytes);
    const arriving = new ArrivingChunks();
    try {
      const handedOn: Buffer[] = [];
      const scratch = new Uint8Array(256 * 1024);
      for (const c of chunks) {
        scratch.set(c.data);
        arriving.add(c.hash, [scratch.subarray(0, c.data.length)]);
        scratch.fill(0xee); // a checker still reading the caller's memory would see this
        for (const done of (await arriving.take(false)).chunks) handedOn.push(bytesOf(done.data));
      }
      for (const done of (await arriving.take(true)).chunks) handedOn.push(bytesOf(done.data));
      expect(Buffer.concat(handedOn).equals(bytes)).toBe(true);
      expect(await arriving.mark()).toBe(sha256(bytes));
    } finally {
      arriving.release();
    }
  });

  it("checks on the calling thread once a worker per core is busy, with the same results", async () => {
    const many = Array.from({ length: availableParallelism() + 2 }, () => new ArrivingChunks());
    try {
      const inputs = many.map((_, i) => randomBytes(3 * MiB + i));
      const passed = await Promise.all(many.map((arriving, i) => pass(arriving, chunksOf(inputs[i]!))));
      for (const [i, p] of passed.entries()) {
        expect(p.bad).toBeUndefined();
        expect(Buffer.concat(p.handedOn.map((c) => c.bytes)).equals(inputs[i]!)).toBe(true);
      }
      expect(await Promise.all(many.map((arriving) => arriving.mark()))).toEqual(inputs.map(sha256));
      // A damaged chunk is refused on the calling thread too.
      const last = many.at(-1)!;
      last.restart();
      const chunk = randomBytes(20_000);
      last.add(chunkHash(chunk), [chunk.subarray(1)]);
      expect((await last.take(true)).bad).toBe(chunkHash(chunk));
    } finally {
      for (const arriving of many) arriving.release();
    }
  });
});
