/**
 * Reading a file back checks its whole sha256, not only each chunk's BLAKE3: a file record whose chunks are
 * all sound but whose sha256 is not theirs (an index edited or restored from elsewhere) must not read as good.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCairnError } from "@cairn/core";
import { type EmbeddedStore, openEmbeddedStore } from "@cairn/storage";
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
});
