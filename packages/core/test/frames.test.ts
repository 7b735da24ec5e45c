/**
 * Chunk frames as a pack upload or a chunk fetch carries them: however the body is cut into pieces, the reader
 * hands out the same chunks — joined (`push`) or as the views they arrived in (`pushParts`) — and refuses a
 * malformed or truncated body.
 */
import { createHash } from "node:crypto";
import { CairnError, FRAME_HEADER_SIZE, FrameReader, frameHeader } from "@cairn/core";
import { describe, expect, it } from "vitest";

const name = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

function body(chunks: Uint8Array[]): Uint8Array {
  const parts = chunks.flatMap((data) => [frameHeader(name(data), data.byteLength), data]);
  return Buffer.concat(parts);
}

/** `bytes` cut every `size` bytes. */
const cut = (bytes: Uint8Array, size: number): Uint8Array[] => {
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength; at += size) pieces.push(bytes.subarray(at, at + size));
  return pieces;
};

const code = (run: () => void): string => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CairnError);
    return (error as CairnError).code;
  }
  throw new Error("expected a failure");
};

describe("FrameReader", () => {
  const chunks = [1, 7, 36, 37, 1000, 4096, 70_000].map((size, n) =>
    Uint8Array.from({ length: size }, (_, i) => (i * 31 + n * 17) & 255),
  );
  const whole = body(chunks);

  it("reads the same chunks whatever size the pieces, joined or as parts", () => {
    for (const size of [1, 2, 35, 36, 37, 999, 4096, 65_536, whole.byteLength]) {
      const joined = new FrameReader();
      const parted = new FrameReader();
      const got = cut(whole, size).flatMap((piece) => joined.push(piece));
      const parts = cut(whole, size).flatMap((piece) => parted.pushParts(piece));
      joined.end();
      parted.end();
      expect(got.map((c) => c.hash)).toEqual(chunks.map(name));
      expect(got.map((c) => Buffer.from(c.data))).toEqual(chunks.map((c) => Buffer.from(c)));
      for (const [n, chunk] of parts.entries()) {
        expect(chunk.hash).toBe(name(chunks[n]!));
        expect(chunk.length).toBe(chunks[n]!.byteLength);
        // Views of the pieces, none empty, that make the chunk when joined.
        expect(chunk.parts.every((part) => part.byteLength > 0)).toBe(true);
        expect(Buffer.concat(chunk.parts)).toEqual(Buffer.from(chunks[n]!));
      }
    }
  });

  it("refuses a frame declaring an impossible length, and a body that stops inside a frame", () => {
    const bad = Buffer.from(whole.subarray(0, FRAME_HEADER_SIZE));
    bad.writeUInt32BE(0, 32);
    expect(code(() => new FrameReader().push(bad))).toBe("INVALID");
    const reader = new FrameReader();
    reader.pushParts(whole.subarray(0, whole.byteLength - 1));
    expect(reader.atBoundary).toBe(false);
    expect(code(() => reader.end())).toBe("INVALID");
  });

  it("writes a header as the name's bytes and the length, into new memory or in place; refuses a bad name", () => {
    const hash = name(Buffer.from("x"));
    const header = frameHeader(hash, 70_000);
    expect(Buffer.from(header.subarray(0, 32)).toString("hex")).toBe(hash);
    expect(Buffer.from(header).readUInt32BE(32)).toBe(70_000);
    const target = new Uint8Array(100).fill(7);
    frameHeader(hash, 70_000, target, 50);
    expect(Buffer.from(target.subarray(50, 50 + FRAME_HEADER_SIZE))).toEqual(Buffer.from(header));
    expect(target[49]).toBe(7);
    for (const bad of [
      hash.toUpperCase(),
      hash.slice(1),
      `${hash}0`,
      `${hash.slice(0, 63)}g`,
      "é".repeat(64),
    ]) {
      expect(
        code(() => frameHeader(bad, 10)),
        bad,
      ).toBe("INVALID");
    }
    expect(code(() => frameHeader(hash, 0))).toBe("INVALID");
  });
});
