/**
 * Reading a file back checks its whole sha256, not only each chunk's BLAKE3: a file record whose chunks are
 * all sound but whose sha256 is not theirs (an index edited or restored from elsewhere) must not read as good.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCairnError } from "@cairn/core";
import { ChunkStore, type EmbeddedStore, openEmbeddedStore, verifyStore } from "@cairn/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collect, pieces } from "./contract/blob-contract.js";

const MiB = 1024 * 1024;

describe("reading a file back from the chunk store", () => {
  let dir: string;
  let store: EmbeddedStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "cairn-read-"));
    store = await openEmbeddedStore(join(dir, ".cairn"));
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    { size: 20 * MiB + 12345, what: "a file of many read runs" },
    { size: 100_000, what: "a file of two chunks" },
  ])("checks the whole sha256 of $what: a record naming other bytes is INTEGRITY", async ({ size }) => {
    const bytes = randomBytes(size);
    const stored = await store.content.write(pieces(bytes, [MiB]));
    await store.content.flush();
    expect(stored.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    expect((await collect(store.content.read(stored))).equals(bytes)).toBe(true);

    // The same chunks, recorded under another sha256.
    const index = store.meta.chunkIndex();
    const record = (await index.getContent(stored.sha256))!;
    const wrong = createHash("sha256").update("not these bytes").digest("hex");
    await index.putContent(await store.content.sessionId(), { ...record, sha256: wrong });
    const failure = await collect(store.content.read({ sha256: wrong, size }, { label: "m@1: f" })).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isCairnError(failure, "INTEGRITY")).toBe(true);
    expect((failure as Error).message).toContain("m@1: f: the file's sha256 does not match");
  });

  it("a transient read hands out reused buffers, each valid until the next piece is asked for", async () => {
    // Two versions whose shared chunks lie in the first push's packs: the second reads from several packs.
    // Each is many read runs (of up to 16 MiB), more than are ever in flight at once.
    const first = randomBytes(72 * MiB);
    const second = Buffer.concat([
      first.subarray(0, 30 * MiB),
      randomBytes(3 * MiB),
      first.subarray(33 * MiB),
    ]);
    const one = await store.content.write(pieces(first, [MiB]));
    const two = await store.content.write(pieces(second, [3 * MiB]));
    await store.content.flush();
    for (const [stored, bytes] of [
      [one, first],
      [two, second],
    ] as const) {
      const copies: Buffer[] = [];
      const buffers = new Set<ArrayBufferLike>();
      for await (const piece of store.content.read(stored, { transient: true })) {
        copies.push(Buffer.from(piece)); // a copy now: the piece is only valid until the next is asked for
        buffers.add(piece.buffer);
      }
      expect(Buffer.concat(copies).equals(bytes)).toBe(true);
      expect(buffers.size).toBeLessThan(copies.length); // buffers were reused
    }
  });

  it("writes a file larger than several packs, sealing full packs while the next fills, and reads it back", async () => {
    const chunks = new ChunkStore(store.blobs, store.meta.chunkIndex(), { packSize: 5 * MiB });
    try {
      const bytes = randomBytes(23 * MiB + 777);
      const stored = await chunks.write(pieces(bytes, [2 * MiB]));
      await chunks.flush();
      expect(stored.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
      expect(await chunks.has(stored.sha256)).toBe(true);
      const packs: string[] = [];
      for await (const blob of store.blobs.list("packs/")) packs.push(blob.key);
      expect(packs.length).toBeGreaterThanOrEqual(4);
      expect((await collect(chunks.read(stored))).equals(bytes)).toBe(true);
      const report = await verifyStore(chunks);
      expect(report).toMatchObject({
        damagedChunks: 0,
        missingPacks: [],
        damagedFiles: [],
        incompleteFiles: [],
      });
      expect(report.bytes).toBeGreaterThanOrEqual(bytes.length);
    } finally {
      await chunks.close();
    }
  });
});
