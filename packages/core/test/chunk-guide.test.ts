/**
 * The guided chunker's two parts (the chunk store's tests check its output against plain chunking): the end
 * check must pass every chunk a scan cuts, or an unchanged file would be rescanned chunk by chunk, and the
 * guide must pick the old list up again after a change.
 */
import { chunkBuffer, MAX_CHUNK_SIZE } from "@cairn/core";
import { describe, expect, it } from "vitest";
// Internal: the pieces behind Chunker's `previous` option.
import { couldEndChunk } from "../dist/chunking/_gear-kernel.js";
import { ChunkGuide } from "../dist/chunking/guide.js";

/** Deterministic pseudo-random bytes (xorshift32), so a failure reproduces. */
function randomBytes(length: number, seed: number): Buffer {
  const words = new Uint32Array(Math.ceil(length / 4));
  let x = seed;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return Buffer.from(words.buffer, 0, length);
}

describe("couldEndChunk", () => {
  const bytes = Buffer.concat([
    randomBytes(6 * 1024 * 1024, 1),
    Buffer.alloc(400_000),
    randomBytes(300_000, 2),
  ]);
  const chunks = chunkBuffer(bytes).slice(0, -1); // the last one ends at the end of the bytes, not at a cut

  it("passes every chunk a scan cuts, full-size ones included", () => {
    expect(chunks.some((c) => c.length === MAX_CHUNK_SIZE)).toBe(true);
    expect(chunks.filter((c) => !couldEndChunk(c.data))).toEqual([]);
  });

  it("fails chunks ended a byte early, and anything too short or too long", () => {
    // (A byte late passes more often than chance: 20 of the gear table's 256 entries are below 2^48, so a match is
    // followed by another whenever the next byte picks one of them. A guess is trusted only by its name.)
    const early = chunks.filter(
      (c) => c.length < MAX_CHUNK_SIZE && couldEndChunk(c.data.subarray(0, c.length - 1)),
    );
    expect(early).toEqual([]);
    expect(couldEndChunk(bytes.subarray(0, 8000))).toBe(false);
    expect(couldEndChunk(bytes.subarray(0, MAX_CHUNK_SIZE + 1))).toBe(false);
  });
});

describe("ChunkGuide", () => {
  const list = ["a", "b", "c", "b", "d", "e"].map((hash) => ({ hash, length: 10_000 }));

  it("guesses the list in order, never its last chunk (cut by the end of its file)", () => {
    const guide = new ChunkGuide(list);
    const guessed: string[] = [];
    for (let guess = guide.guess; guess; guess = guide.guess) {
      guessed.push(guess.hash);
      guide.advance();
    }
    expect(guessed).toEqual(["a", "b", "c", "b", "d"]);
  });

  it("after a miss, picks the list up at a scanned chunk it knows (a repeated one at its first place)", () => {
    const guide = new ChunkGuide(list);
    guide.lose();
    expect(guide.guess).toBeUndefined();
    expect(guide.follow("x")).toBe(false);
    expect(guide.follow("b")).toBe(true);
    expect(guide.guess?.hash).toBe("c");
    expect(guide.follow("d")).toBe(false); // only the last chunk follows it
    expect(guide.follow("e")).toBe(false);
    guide.restart();
    expect(guide.guess?.hash).toBe("a");
  });
});
