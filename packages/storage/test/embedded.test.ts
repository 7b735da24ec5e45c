import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "@cairn/core";
import { openEmbeddedStore } from "@cairn/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collect, pieces } from "./contract/blob-contract.js";

describe("embedded store", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "cairn-home-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("creates its folder, database and blob folder on first open", async () => {
    const home = join(dir, ".cairn");
    const store = await openEmbeddedStore(home);
    await store.close();
    expect(existsSync(join(home, "cairn.db"))).toBe(true);
    expect(existsSync(join(home, "blobs"))).toBe(true);
    expect(store.home).toBe(home);
  });

  it("publishes a version through the registry and finds it, bytes and all, after reopening", async () => {
    const home = join(dir, ".cairn");
    const weights = Buffer.from("weights of a very small model");
    let store = await openEmbeddedStore(home);
    const registry = new Registry({ meta: store.meta, content: store.content, actor: "ada" });
    const stored = await store.content.write(pieces(weights));
    // Durable (and visible to the version's check) only once flushed: a push flushes once, then commits.
    await store.content.flush();
    await registry.publishVersion({
      name: "tiny",
      files: [{ path: "model.bin", mode: 0o644, ...stored }],
      metrics: { accuracy: 0.5 },
      aliases: ["production"],
    });
    await store.close();

    store = await openEmbeddedStore(home);
    try {
      const version = await new Registry({ meta: store.meta, content: store.content, actor: "ada" }).resolve(
        "tiny@production",
      );
      expect(version).toMatchObject({
        version: "0.1.0",
        seq: 1,
        aliases: ["production"],
        metrics: { accuracy: 0.5 },
      });
      const file = version.files[0]!;
      expect(
        (await collect(store.content.read(file, { label: "tiny@0.1.0: model.bin" }))).equals(weights),
      ).toBe(true);
      expect(await store.meta.listLiveContent()).toEqual(new Set([stored.sha256]));
    } finally {
      await store.close();
    }
  });

  it("checks its argument", async () => {
    await expect(openEmbeddedStore("")).rejects.toMatchObject({ code: "INVALID" });
  });
});
