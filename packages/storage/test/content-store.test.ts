import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, open, rm, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { contentKey, type FsBlobStore, openFsBlobStore, WholeFileContentStore } from "@cairn/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collect, pieces } from "./contract/blob-contract.js";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("whole-file content store", () => {
  let dir: string;
  let blobs: FsBlobStore;
  let content: WholeFileContentStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "cairn-content-"));
    blobs = await openFsBlobStore(dir);
    content = new WholeFileContentStore(blobs);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const blobKeys = async (prefix = "") => {
    const found: string[] = [];
    for await (const blob of blobs.list(prefix)) found.push(blob.key);
    return found.sort();
  };
  /** Overwrites one byte of a stored file in place, as disk rot or a careless edit would. */
  const flipByte = async (sha: string, at: number) => {
    const file = await open(join(blobs.dir, contentKey(sha)), "r+");
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, at);
    byte[0] = byte[0]! ^ 0xff;
    await file.write(byte, 0, 1, at);
    await file.close();
  };

  it("stores a stream and reads it back, named by its sha256", async () => {
    const bytes = randomBytes(300_000);
    const progress: number[] = [];
    const stored = await content.write(pieces(bytes), { onProgress: (n) => progress.push(n) });
    expect(stored).toEqual({ sha256: sha256(bytes), size: bytes.length });
    expect(progress.at(-1)).toBe(bytes.length);
    expect(await content.has(stored.sha256)).toBe(true);
    const readProgress: number[] = [];
    expect(
      (await collect(content.read(stored, { onProgress: (n) => readProgress.push(n) }))).equals(bytes),
    ).toBe(true);
    expect(readProgress.at(-1)).toBe(bytes.length);
    await content.verify(stored);
    expect(await blobKeys()).toEqual([contentKey(stored.sha256)]);
  });

  it("stores an empty file", async () => {
    const stored = await content.write(pieces(new Uint8Array(0)));
    expect(stored).toEqual({ sha256: sha256(new Uint8Array(0)), size: 0 });
    expect((await collect(content.read(stored))).length).toBe(0);
  });

  it("stores the same bytes once, however they arrive", async () => {
    const bytes = randomBytes(200_000);
    const first = await content.write(pieces(bytes, [1000]));
    const second = await content.write(pieces(bytes, [65_536, 3]));
    expect(second).toEqual(first);
    expect(await blobKeys()).toEqual([contentKey(first.sha256)]);
    const listed = [];
    for await (const item of content.list()) listed.push(item);
    expect(listed).toEqual([first]);
  });

  it("a damaged copy is INTEGRITY on read and on verify, naming the file, and never arrives complete", async () => {
    const bytes = randomBytes(3 * 1024 * 1024);
    const stored = await content.write(pieces(bytes));
    await flipByte(stored.sha256, 2 * 1024 * 1024);
    const label = "resnet@1.2.0: weights.bin";
    const received: Uint8Array[] = [];
    const reading = (async () => {
      for await (const part of content.read(stored, { label })) received.push(part);
    })();
    await expect(reading).rejects.toMatchObject({
      code: "INTEGRITY",
      message: expect.stringContaining(label),
    });
    expect(Buffer.concat(received).length).toBeLessThan(bytes.length);
    await expect(content.verify(stored, { label })).rejects.toMatchObject({
      code: "INTEGRITY",
      message: expect.stringContaining(label),
    });
  });

  it("a truncated, extended or missing copy is INTEGRITY", async () => {
    const bytes = randomBytes(100_000);
    const stored = await content.write(pieces(bytes));
    const path = join(blobs.dir, contentKey(stored.sha256));
    await truncate(path, 50_000);
    await expect(content.verify(stored, { label: "short.bin" })).rejects.toMatchObject({ code: "INTEGRITY" });
    await blobs.put(contentKey(stored.sha256), Buffer.concat([bytes, Buffer.from("extra")]));
    await expect(content.verify(stored, { label: "long.bin" })).rejects.toMatchObject({ code: "INTEGRITY" });
    await content.remove(stored.sha256);
    expect(await content.has(stored.sha256)).toBe(false);
    await expect(collect(content.read(stored, { label: "gone.bin" }))).rejects.toMatchObject({
      code: "INTEGRITY",
      message: expect.stringContaining("gone.bin"),
    });
  });

  it("pushing a file again repairs a copy of the wrong size", async () => {
    const bytes = randomBytes(100_000);
    const stored = await content.write(pieces(bytes));
    await truncate(join(blobs.dir, contentKey(stored.sha256)), 10);
    await content.write(pieces(bytes));
    await content.verify(stored);
  });

  it("a write whose source fails stores nothing", async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield randomBytes(100_000);
      throw new Error("disk unplugged");
    }
    await expect(content.write(failing())).rejects.toThrow("disk unplugged");
    expect(await blobKeys()).toEqual([]);
  });

  it("removes content; removing absent content is fine", async () => {
    const a = await content.write(pieces(Buffer.from("a")));
    const b = await content.write(pieces(Buffer.from("b")));
    await content.remove(a.sha256);
    await content.remove(a.sha256);
    expect(await content.has(a.sha256)).toBe(false);
    const listed = [];
    for await (const item of content.list()) listed.push(item.sha256);
    expect(listed).toEqual([b.sha256]);
  });

  it("sweeps the staging objects of writers that died, leaving recent ones", async () => {
    const hourAgo = Date.now() - 3_600_000;
    await blobs.put(`staging/${hourAgo}-dead`, randomBytes(10));
    await blobs.put(`staging/${Date.now()}-alive`, randomBytes(10));
    expect(await content.sweepStaging(60_000)).toBe(1);
    expect(await blobKeys("staging/")).toEqual([expect.stringMatching(/-alive$/)]);
  });

  it("rejects content ids that are not sha256 hex", async () => {
    for (const bad of ["", "abc", "A".repeat(64), "../".padEnd(64, "a")]) {
      await expect(content.has(bad)).rejects.toMatchObject({ code: "INVALID" });
      await expect(content.remove(bad)).rejects.toMatchObject({ code: "INVALID" });
      await expect(collect(content.read({ sha256: bad, size: 1 }))).rejects.toMatchObject({
        code: "INVALID",
      });
    }
  });

  it("streams a 50 MB file through in bounded pieces and back, byte for byte", async () => {
    const chunk = 1024 * 1024;
    const count = 50;
    // Generated as it is consumed, hashed on the way, so the test itself never holds the whole file.
    const expected = createHash("sha256");
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < count; i++) {
        const part = randomBytes(chunk);
        expected.update(part);
        yield part;
      }
    }
    const stored = await content.write(source());
    expect(stored).toEqual({ sha256: expected.digest("hex"), size: chunk * count });
    const back = createHash("sha256");
    let size = 0;
    let largest = 0;
    for await (const part of content.read(stored)) {
      back.update(part);
      size += part.byteLength;
      largest = Math.max(largest, part.byteLength);
    }
    expect(size).toBe(chunk * count);
    expect(back.digest("hex")).toBe(stored.sha256);
    // Read in large buffers (throughput), never the whole file at once (memory).
    expect(largest).toBeGreaterThanOrEqual(512 * 1024);
    expect(largest).toBeLessThanOrEqual(4 * 1024 * 1024);
  });
});
