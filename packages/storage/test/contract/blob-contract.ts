/**
 * @module The BlobStore contract: every blob driver (local folder, S3) runs this same suite through the
 * interface, so content and chunk packs behave the same whichever storage holds them.
 */
import { randomBytes } from "node:crypto";
import type { BlobStore, ByteSource } from "@cairn/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

export async function collect(source: ByteSource): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

/** Yields `bytes` in pieces of the given sizes (cycled), the way a network or file stream would. */
export async function* pieces(
  bytes: Uint8Array,
  sizes: number[] = [1, 1000, 65_536, 7],
): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    yield bytes.subarray(at, at + size);
    at += size;
  }
}

export function runBlobContract(
  name: string,
  open: () => Promise<BlobStore>,
  cleanup: () => Promise<void>,
): void {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await cleanup();
    });

    const text = (s: string) => new TextEncoder().encode(s);
    const keys = async (prefix: string) => {
      const found: string[] = [];
      for await (const blob of store.list(prefix)) found.push(blob.key);
      return found.sort();
    };

    it("stores bytes and gives them back, with their size", async () => {
      await store.put("a/b/hello.txt", text("hello, world"));
      expect((await collect(store.get("a/b/hello.txt"))).toString()).toBe("hello, world");
      expect(await store.head("a/b/hello.txt")).toEqual({ key: "a/b/hello.txt", size: 12 });
    });

    it("stores a stream of uneven pieces byte for byte", async () => {
      const bytes = randomBytes(3 * 1024 * 1024 + 17);
      await store.put("big/object", pieces(bytes));
      expect((await collect(store.get("big/object"))).equals(bytes)).toBe(true);
      expect((await store.head("big/object"))?.size).toBe(bytes.length);
    });

    it("stores an empty object", async () => {
      await store.put("empty", new Uint8Array(0));
      expect(await store.head("empty")).toEqual({ key: "empty", size: 0 });
      expect((await collect(store.get("empty"))).length).toBe(0);
    });

    it("replaces an object whole when put again", async () => {
      await store.put("k", text("a much longer first version"));
      await store.put("k", text("short"));
      expect((await collect(store.get("k"))).toString()).toBe("short");
    });

    it("reads a range: the bytes from offset, at most length of them", async () => {
      const bytes = randomBytes(100_000);
      await store.put("r", bytes);
      const range = (offset: number, length: number) => collect(store.get("r", { offset, length }));
      expect((await range(0, 10)).equals(bytes.subarray(0, 10))).toBe(true);
      expect((await range(12_345, 54_321)).equals(bytes.subarray(12_345, 12_345 + 54_321))).toBe(true);
      expect((await range(99_990, 10)).equals(bytes.subarray(99_990))).toBe(true);
      expect((await range(500, 0)).length).toBe(0);
      // Past the end: only what exists (a reader that hashes what it got then reports the damage precisely).
      expect((await range(99_990, 100)).equals(bytes.subarray(99_990))).toBe(true);
      expect((await range(200_000, 10)).length).toBe(0);
      await expect(range(-1, 10)).rejects.toMatchObject({ code: "INVALID" });
      await expect(range(0, -10)).rejects.toMatchObject({ code: "INVALID" });
    });

    it("an absent object is NOT_FOUND on read, null on head", async () => {
      await expect(collect(store.get("nope"))).rejects.toMatchObject({ code: "NOT_FOUND" });
      await expect(collect(store.get("nope", { offset: 0, length: 1 }))).rejects.toMatchObject({
        code: "NOT_FOUND",
      });
      expect(await store.head("nope")).toBeNull();
    });

    it("a reader may stop early", async () => {
      await store.put("s", randomBytes(4 * 1024 * 1024));
      for await (const _ of store.get("s")) break;
      await store.delete("s");
      expect(await store.head("s")).toBeNull();
    });

    it("lists objects under a prefix, recursively, with sizes; a prefix need not end at a slash", async () => {
      await store.put("files/ab/one", text("1"));
      await store.put("files/ab/two", text("22"));
      await store.put("files/abc/three", text("333"));
      await store.put("files/b/four", text("4444"));
      await store.put("packs/p1", text("55555"));
      expect(await keys("files/")).toEqual([
        "files/ab/one",
        "files/ab/two",
        "files/abc/three",
        "files/b/four",
      ]);
      expect(await keys("files/ab/")).toEqual(["files/ab/one", "files/ab/two"]);
      expect(await keys("files/ab")).toEqual(["files/ab/one", "files/ab/two", "files/abc/three"]);
      expect(await keys("files/ab/t")).toEqual(["files/ab/two"]);
      expect(await keys("")).toHaveLength(5);
      expect(await keys("nothing/")).toEqual([]);
      const sizes: Record<string, number> = {};
      for await (const blob of store.list("")) sizes[blob.key] = blob.size;
      expect(sizes).toEqual({
        "files/ab/one": 1,
        "files/ab/two": 2,
        "files/abc/three": 3,
        "files/b/four": 4,
        "packs/p1": 5,
      });
    });

    it("deletes an object, leaving the others; deleting an absent object is fine", async () => {
      await store.put("d/one", text("1"));
      await store.put("d/two", text("2"));
      await store.delete("d/one");
      expect(await store.head("d/one")).toBeNull();
      expect(await keys("d/")).toEqual(["d/two"]);
      await store.delete("d/one");
      await store.delete("never/was");
    });

    it("moves an object to a new key, replacing what was there", async () => {
      await store.put("staging/x", text("new"));
      await store.move("staging/x", "final/deep/x");
      expect(await store.head("staging/x")).toBeNull();
      expect((await collect(store.get("final/deep/x"))).toString()).toBe("new");
      await store.put("staging/y", text("newer"));
      await store.move("staging/y", "final/deep/x");
      expect((await collect(store.get("final/deep/x"))).toString()).toBe("newer");
      expect(await keys("")).toEqual(["final/deep/x"]);
    });

    it("moving an absent object is NOT_FOUND", async () => {
      await expect(store.move("ghost", "target")).rejects.toMatchObject({ code: "NOT_FOUND" });
      expect(await store.head("target")).toBeNull();
    });

    it("rejects keys that are not plain relative paths", async () => {
      for (const key of [
        "",
        "/etc/passwd",
        "../escape",
        "a/../../b",
        "a//b",
        "a/./b",
        "a/",
        "a\\b",
        "C:/x",
      ]) {
        await expect(store.put(key, text("x")), key).rejects.toMatchObject({ code: "INVALID" });
        await expect(store.head(key), key).rejects.toMatchObject({ code: "INVALID" });
        await expect(collect(store.get(key)), key).rejects.toMatchObject({ code: "INVALID" });
        await expect(store.delete(key), key).rejects.toMatchObject({ code: "INVALID" });
        await expect(store.move(key, "ok"), key).rejects.toMatchObject({ code: "INVALID" });
      }
      await expect(keys("../")).rejects.toMatchObject({ code: "INVALID" });
      expect(await keys("")).toEqual([]);
    });

    it("a write whose source fails stores nothing, and keeps the object it would have replaced", async () => {
      await store.put("model.bin", text("the good version"));
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield randomBytes(1024 * 1024);
        throw new Error("connection reset");
      }
      await expect(store.put("model.bin", failing())).rejects.toThrow("connection reset");
      await expect(store.put("other.bin", failing())).rejects.toThrow("connection reset");
      expect((await collect(store.get("model.bin"))).toString()).toBe("the good version");
      expect(await store.head("other.bin")).toBeNull();
      expect(await keys("")).toEqual(["model.bin"]);
    });

    it("concurrent writes to one key leave one of them whole, never a mix", async () => {
      const a = Buffer.alloc(2 * 1024 * 1024, 0xaa);
      const b = Buffer.alloc(2 * 1024 * 1024 - 5, 0xbb);
      await Promise.all([store.put("same", pieces(a, [65_536])), store.put("same", pieces(b, [100_000]))]);
      const stored = await collect(store.get("same"));
      expect(stored.equals(a) || stored.equals(b)).toBe(true);
      expect(await keys("")).toEqual(["same"]);
    });
  });
}
