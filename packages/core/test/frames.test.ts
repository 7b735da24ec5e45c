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
});
