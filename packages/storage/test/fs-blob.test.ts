import { randomFillSync } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type FsBlobStore, openFsBlobStore } from "@cairn/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
// Internal: the page-aligned memory a pack writer fills, which the store writes straight to the disk.
import { pageAlignedPieces } from "../dist/fs/direct-io.js";
import { collect, runBlobContract } from "./contract/blob-contract.js";
import { startNode } from "./helpers/processes.js";

const WRITER = fileURLToPath(new URL("./fixtures/fs-writer.mjs", import.meta.url));

let contractDir: string | undefined;
runBlobContract(
  "fs",
  async () => {
    contractDir = await mkdtemp(join(tmpdir(), "cairn-blobs-"));
    return openFsBlobStore(join(contractDir, "blobs"));
  },
  async () => {
    if (contractDir) await rm(contractDir, { recursive: true, force: true });
  },
);

describe("local-folder blob store", () => {
  let dir: string;
  let store: FsBlobStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "cairn-blobs-"));
    store = await openFsBlobStore(join(dir, "blobs"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("stores the bytes given whatever the memory they lie in: page-aligned, misaligned, and odd lengths", async () => {
    // Page-aligned pieces go to the disk directly; misaligned memory (which the kernel refuses for that, so
    // the store falls back to the page cache) and a tail of odd length must come out the same.
    const aligned = pageAlignedPieces(1024 * 1024);
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < 3; i++) pieces.push(randomFillSync(aligned(1024 * 1024)));
    pieces.push(randomFillSync(Buffer.allocUnsafeSlow(8192 + 1)).subarray(1));
    pieces.push(randomFillSync(aligned(1024 * 1024)));
    pieces.push(randomFillSync(Buffer.alloc(1000)));
    pieces.push(randomFillSync(aligned(1024 * 1024)));
    const expected = Buffer.concat(pieces);
    await store.put(
      "packs/mixed.pack",
      (async function* () {
        yield* pieces;
      })(),
    );
    expect(Buffer.compare(await readFile(join(dir, "blobs", "packs", "mixed.pack")), expected)).toBe(0);
    expect(await keys()).toEqual(["packs/mixed.pack"]);
  });

  const keys = async () => {
    const found: string[] = [];
    for await (const blob of store.list("")) found.push(blob.key);
    return found.sort();
  };

  it("keeps each object as a plain file at its key's path, so the folder can be backed up with any tool", async () => {
    await store.put("files/ab/abcd", new TextEncoder().encode("content"));
    expect(await readFile(join(dir, "blobs", "files", "ab", "abcd"), "utf8")).toBe("content");
  });

  it("a writer killed with SIGKILL mid-write leaves the previous object intact and only debris that list ignores and sweepTemp removes", async () => {
    await store.put("model.bin", new TextEncoder().encode("previous"));
    const writer = startNode(WRITER, [store.dir, "model.bin"]);
    expect(await writer.nextLine()).toBe("stalled");
    writer.child.kill("SIGKILL");
    expect(await writer.exited).toEqual({ code: null, signal: "SIGKILL" });

    expect((await collect(store.get("model.bin"))).toString()).toBe("previous");
    expect(await keys()).toEqual(["model.bin"]);
    expect(await store.sweepTemp(0)).toBe(1);
    expect(await store.sweepTemp(0)).toBe(0);
    expect(await keys()).toEqual(["model.bin"]);
  });

  it("reads a range straight into a caller's buffer: fewer bytes at the end of the object, NOT_FOUND when absent", async () => {
    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    await store.put("packs/a", bytes);
    const target = Buffer.alloc(1000);
    expect(await store.readInto("packs/a", 1234, target)).toBe(1000);
    expect(target.equals(bytes.subarray(1234, 2234))).toBe(true);
    expect(await store.readInto("packs/a", 4500, target)).toBe(500);
    expect(target.subarray(0, 500).equals(bytes.subarray(4500))).toBe(true);
    await expect(store.readInto("packs/b", 0, target)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(store.readInto("packs", 0, target)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(store.readInto("packs/a", -1, target)).rejects.toMatchObject({ code: "INVALID" });
  });

  it("sweepTemp removes only temp files older than the given age", async () => {
    await mkdir(join(store.dir, "files", "ab"), { recursive: true });
    const stale = join(store.dir, "files", "ab", ".cairn-tmp-0123456789abcdef");
    const fresh = join(store.dir, ".cairn-tmp-fedcba9876543210");
    await writeFile(stale, "half an object");
    await writeFile(fresh, "a write in progress");
    const anHourAgo = new Date(Date.now() - 3_600_000);
    await utimes(stale, anHourAgo, anHourAgo);
    await store.put("files/ab/real", new Uint8Array([1]));

    expect(await keys()).toEqual(["files/ab/real"]);
    expect(await store.sweepTemp(60_000)).toBe(1);
    expect(await readFile(fresh, "utf8")).toBe("a write in progress");
    expect(await keys()).toEqual(["files/ab/real"]);
  });

  it("reserves temp-file names, so no key can collide with one", async () => {
    await expect(store.put(".cairn-tmp-x", new Uint8Array([1]))).rejects.toMatchObject({ code: "INVALID" });
    await expect(store.put("a/.cairn-tmp-x/b", new Uint8Array([1]))).rejects.toMatchObject({
      code: "INVALID",
    });
  });

  it("checks its folder: an empty path or a file is INVALID; a missing folder is created", async () => {
    await expect(openFsBlobStore("")).rejects.toMatchObject({ code: "INVALID" });
    await writeFile(join(dir, "a-file"), "x");
    await expect(openFsBlobStore(join(dir, "a-file"))).rejects.toMatchObject({ code: "INVALID" });
    const created = await openFsBlobStore(join(dir, "new", "nested"));
    await created.put("k", new Uint8Array([7]));
    expect(await created.head("k")).toEqual({ key: "k", size: 1 });
  });
});
