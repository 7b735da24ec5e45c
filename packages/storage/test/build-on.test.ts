/**
 * What a new file is chunked along (core's `filesToBuildOn` rules), on a real embedded store: a push builds on
 * its base, else on the artifact's last version; a run's artifact on the one it replaces at the same path.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ContentStore, Registry, RunTracker, trackingOf } from "@cairn/core";
import { type EmbeddedStore, openEmbeddedStore } from "@cairn/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let dir: string;
let store: EmbeddedStore;
let registry: Registry;

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** A stored file at `path` holding `text`. */
async function file(path: string, text: string) {
  const stored = await (store.content as ContentStore).write(once(Buffer.from(text)));
  await store.content.flush();
  return { path, size: stored.size, mode: 0o644, sha256: stored.sha256 };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cairn-build-on-"));
  store = await openEmbeddedStore(join(dir, ".cairn"));
  registry = new Registry({ meta: store.meta, content: store.content, actor: "ada" });
});
afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("what a new file is chunked along", () => {
  it("a push: the base it names, else the artifact's last version; nothing for a new artifact or a bad base", async () => {
    expect(await registry.filesToBuildOn("model")).toEqual(new Map());
    const v1 = await file("model.bin", "one");
    const v2 = await file("model.bin", "two");
    const extra = await file("extra.bin", "three");
    await registry.publishVersion({ name: "model", version: "1.0.0", files: [v1] });
    await registry.publishVersion({ name: "model", version: "0.9.0", files: [v2, extra] }); // pushed last
    expect(await registry.filesToBuildOn("model")).toEqual(
      new Map([
        ["extra.bin", extra.sha256],
        ["model.bin", v2.sha256],
      ]),
    );
    expect(await registry.filesToBuildOn("tuned", "model@1.0.0")).toEqual(
      new Map([["model.bin", v1.sha256]]),
    );
    expect(await registry.filesToBuildOn("model", "model@7.0.0")).toEqual(new Map());
  });

  it("a run's artifact: the one it replaces at the same path; an unknown run is NOT_FOUND", async () => {
    const runs = new RunTracker({ registry, store: trackingOf(store.meta) });
    const run = await runs.start({});
    expect(await runs.filesToBuildOn(run.id)).toEqual(new Map());
    const first = await file("ckpt.bin", "epoch 1");
    const second = await file("ckpt.bin", "epoch 2");
    const log = await file("log.txt", "loss");
    await runs.logArtifacts(run.id, [first, log]);
    await runs.logArtifacts(run.id, [second]);
    expect(await runs.filesToBuildOn(run.id)).toEqual(
      new Map([
        ["ckpt.bin", second.sha256],
        ["log.txt", log.sha256],
      ]),
    );
    await expect(runs.filesToBuildOn("0".repeat(16))).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
