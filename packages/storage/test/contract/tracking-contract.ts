/**
 * The tracking store contract, run by every metadata driver (SQLite, PostgreSQL) through core's RunTracker
 * over a real content store: params are written once, non-finite metric values come back as logged, a run
 * with a million points logs and reads back page by page, logging stops when a run ends, and a run's
 * artifacts, lock files and code patch are roots of garbage collection.
 */
import {
  CairnError,
  type ContentStore,
  type MetadataStore,
  type MetricPointInput,
  Registry,
  RunTracker,
  trackingOf,
} from "@cairn/core";
import { type ChunkStore, collectGarbage } from "@cairn/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

export interface TrackingFixture {
  meta: MetadataStore;
  content: ChunkStore;
  close(): Promise<void>;
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

async function code(error: Promise<unknown>): Promise<string> {
  try {
    await error;
  } catch (e) {
    expect(e).toBeInstanceOf(CairnError);
    return (e as CairnError).code;
  }
  throw new Error("expected a failure");
}

export function runTrackingContract(
  driver: string,
  open: () => Promise<TrackingFixture>,
  reset: () => Promise<void> = async () => {},
): void {
  let store: TrackingFixture;
  let runs: RunTracker;

  async function stored(text: string) {
    const content = await (store.content as ContentStore).write(once(Buffer.from(text)));
    await store.content.flush();
    return content;
  }

  beforeEach(async () => {
    store = await open();
    const registry = new Registry({ meta: store.meta, content: store.content, actor: "ada" });
    runs = new RunTracker({ registry, store: trackingOf(store.meta) });
  });

  afterEach(async () => {
    await store.close();
    await reset();
  });

  describe(`${driver} tracking store`, () => {
    it("gets a short time-ordered id, starts running in the default experiment, and ends once", async () => {
      const a = await runs.start({ name: "baseline" });
      const b = await runs.start({ experiment: "sweep" });
      expect(a.id).toMatch(/^[0-9a-z]{16}$/);
      expect(a.id < b.id).toBe(true);
      expect(a).toMatchObject({ experiment: "default", name: "baseline", status: "running", endTime: null });
      const ended = await runs.end(a.id, "failed");
      expect(ended.status).toBe("failed");
      expect(ended.endTime).not.toBeNull();
      expect(await code(runs.end(a.id))).toBe("CONFLICT");
      expect((await runs.list()).map((r) => r.id)).toEqual([b.id, a.id]);
      expect((await runs.list({ experiment: "sweep" })).map((r) => r.id)).toEqual([b.id]);
      expect(await code(runs.get("0000000000zzzzzz"))).toBe("NOT_FOUND");
      expect(await code(runs.get("not a run"))).toBe("INVALID");
    });

    it("writes a param once: the same value again is fine, another value is CONFLICT and changes nothing", async () => {
      const run = await runs.start({ params: { lr: 0.01, layers: { a: 1, b: 2 } } });
      await runs.log(run.id, { params: { lr: 0.01, layers: { b: 2, a: 1 }, batch: 32 } });
      expect(await code(runs.log(run.id, { params: { epochs: 5, lr: 0.02 } }))).toBe("CONFLICT");
      const after = await runs.get(run.id);
      expect(after.params).toEqual({ lr: 0.01, layers: { a: 1, b: 2 }, batch: 32 });
      // The whole batch was refused: `epochs` is not there either.
      expect(after.params).not.toHaveProperty("epochs");
    });

    it("keeps NaN, ±Infinity and -0 as logged, in the history and as the last value", async () => {
      const run = await runs.start();
      await runs.log(run.id, {
        metrics: [
          { key: "loss", value: 1.5, step: 0 },
          { key: "loss", value: Number.NaN, step: 1 },
          { key: "loss", value: Number.POSITIVE_INFINITY, step: 2 },
          { key: "loss", value: Number.NEGATIVE_INFINITY, step: 3 },
          { key: "loss", value: -0, step: 4 },
          { key: "acc", value: Number.NaN, step: 9 },
        ],
      });
      const values = (await runs.history(run.id, "loss")).points.map((p) => p.value);
      expect(values).toEqual([1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0]);
      expect(Object.is(values[4], -0)).toBe(true);
      const got = await runs.get(run.id);
      expect(Object.is(got.metrics["loss"], -0)).toBe(true);
      expect(got.metrics["acc"]).toBeNaN();
    });

    it("takes the highest step as the final value, whatever order the points came in", async () => {
      const run = await runs.start();
      await runs.log(run.id, { metrics: [{ key: "acc", value: 0.9, step: 10 }] });
      await runs.log(run.id, { metrics: [{ key: "acc", value: 0.5, step: 3 }] });
      expect((await runs.get(run.id)).metrics).toEqual({ acc: 0.9 });
      await runs.log(run.id, { metrics: [{ key: "acc", value: 0.95, step: 10 }] });
      expect((await runs.get(run.id)).metrics).toEqual({ acc: 0.95 });
    });

    it("logs a million points in batches and reads the history back page by page", async () => {
      const run = await runs.start();
      const total = 1_000_000;
      const batch = 10_000;
      for (let start = 0; start < total; start += batch) {
        const points: MetricPointInput[] = [];
        for (let step = start; step < start + batch; step++) {
          points.push({ key: "loss", value: 1 / (step + 1), step, timestamp: 1_700_000_000_000 + step });
        }
        await runs.log(run.id, { metrics: points });
      }
      let count = 0;
      let inOrder = true;
      let valuesRight = true;
      let cursor: string | undefined;
      let previous = -1;
      do {
        const page = await runs.history(run.id, "loss", { limit: 100_000, ...(cursor ? { cursor } : {}) });
        for (const p of page.points) {
          inOrder &&= p.step === previous + 1;
          valuesRight &&= p.value === 1 / (p.step + 1);
          previous = p.step;
          count++;
        }
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      expect(inOrder).toBe(true);
      expect(valuesRight).toBe(true);
      expect(count).toBe(total);
      expect((await runs.get(run.id)).metrics["loss"]).toBe(1 / total);
    }, 120_000);

    it("loses nothing when many runs log batches at once", async () => {
      const started = await Promise.all(
        Array.from({ length: 20 }, () => runs.start({ experiment: "swarm" })),
      );
      await Promise.all(
        started.map(async (run, r) => {
          for (let b = 0; b < 5; b++) {
            const points = Array.from({ length: 1000 }, (_, i) => ({
              key: `m${i % 4}`,
              value: r + b,
              step: b * 250 + (i >> 2),
            }));
            await runs.log(run.id, { metrics: points, params: { [`p${b}`]: r } });
          }
        }),
      );
      for (const [r, run] of started.entries()) {
        const page = await runs.history(run.id, "m3", { limit: 10_000 });
        expect(page.points.map((p) => p.step)).toEqual(Array.from({ length: 1250 }, (_, i) => i));
        const got = await runs.get(run.id);
        expect(got.metrics).toEqual({ m0: r + 4, m1: r + 4, m2: r + 4, m3: r + 4 });
        expect(got.params).toEqual({ p0: r, p1: r, p2: r, p3: r, p4: r });
      }
      expect(await runs.list({ experiment: "swarm" })).toHaveLength(20);
    }, 60_000);

    it("refuses params, metrics and artifacts once the run has ended, but still takes tags", async () => {
      const run = await runs.start();
      await runs.end(run.id);
      expect(await code(runs.log(run.id, { metrics: [{ key: "x", value: 1 }] }))).toBe("CONFLICT");
      expect(await code(runs.log(run.id, { params: { a: 1 } }))).toBe("CONFLICT");
      await runs.log(run.id, { tags: { reviewed: "yes" } });
      expect((await runs.get(run.id)).tags).toEqual({ reviewed: "yes" });
    });

    it("resolves data refs to exact versions when the run starts", async () => {
      const file = await stored("a,b\n1,2\n");
      await runs.registry.publishVersion({
        name: "iris",
        type: "dataset",
        files: [{ path: "iris.csv", size: file.size, mode: 0o644, sha256: file.sha256 }],
      });
      const run = await runs.start({ data: ["iris@latest"] });
      expect(run.data).toEqual(["iris@0.1.0"]);
      expect(await code(runs.start({ data: ["nothing@1.0.0"] }))).toBe("NOT_FOUND");
    });

    it("records where each data version sits, and an alias as the exact version it named at the start", async () => {
      const file = await stored("text\n");
      const publish = (name: string, version: string) =>
        runs.registry.publishVersion({
          name,
          type: "dataset",
          version,
          files: [{ path: "all.txt", size: file.size, mode: 0o644, sha256: file.sha256 }],
        });
      await publish("imdb", "1.0.0");
      await publish("squad", "1.0.0");
      await runs.registry.setAlias("imdb", "production", "1.0.0");
      const run = await runs.start({ data: ["imdb@production=corpora/./imdb/", { ref: "squad@1.0.0" }] });
      await publish("imdb", "2.0.0");
      await runs.registry.setAlias("imdb", "production", "2.0.0");
      const read = await runs.get(run.id);
      expect(read.data).toEqual(["imdb@1.0.0", "squad@1.0.0"]);
      expect(read.dataPaths).toEqual({ "imdb@1.0.0": "corpora/imdb", "squad@1.0.0": "data/squad" });
      // One folder inside another, a path out of the repository, two paths for one version: refused.
      expect(await code(runs.start({ data: ["imdb@1.0.0=d", "squad@1.0.0=d/squad"] }))).toBe("INVALID");
      expect(await code(runs.start({ data: ["imdb@1.0.0=../imdb"] }))).toBe("INVALID");
      expect(await code(runs.start({ data: ["imdb@1.0.0=a", "imdb#1=b"] }))).toBe("INVALID");
      expect(await code(runs.start({ data: ["imdb@1.0.0", "imdb@2.0.0"] }))).toBe("INVALID");
    });

    it("keeps a run's artifacts, lock files and code patch alive through garbage collection", async () => {
      const model = await stored("weights");
      const lock = await stored('{"lockfileVersion": 3}');
      const patch = await stored("diff --git a/train.py b/train.py");
      const run = await runs.start({
        lockFiles: { "package-lock.json": lock.sha256 },
        code: {
          remote: null,
          branch: "main",
          commit: "a".repeat(40),
          dirty: true,
          patch: patch.sha256,
          path: null,
        },
      });
      await runs.logArtifacts(run.id, [
        { path: "model.bin", size: model.size, mode: 0o644, sha256: model.sha256 },
      ]);
      const live = await store.meta.listLiveContent();
      for (const sha of [model.sha256, lock.sha256, patch.sha256]) expect(live.has(sha)).toBe(true);
      await collectGarbage(store.content);
      for (const sha of [model.sha256, lock.sha256, patch.sha256])
        expect(await store.content.has(sha)).toBe(true);
      expect((await runs.get(run.id)).environment).toEqual({
        lockFiles: { "package-lock.json": lock.sha256 },
      });
    });

    it("promotes a run: its artifacts become a version with its params, final metrics, data and code", async () => {
      const data = await stored("x\n");
      await runs.registry.publishVersion({
        name: "imdb",
        type: "dataset",
        version: "2.1.0",
        files: [{ path: "d.csv", size: data.size, mode: 0o644, sha256: data.sha256 }],
      });
      const model = await stored("model bytes");
      const code = {
        remote: "https://example.com/r.git",
        branch: "main",
        commit: "b".repeat(40),
        dirty: false,
        patch: null,
        path: null,
      };
      const run = await runs.start({ params: { lr: 0.1 }, data: ["imdb@2.1.0"], code });
      await runs.log(run.id, {
        metrics: [
          { key: "acc", value: 0.8, step: 1 },
          { key: "acc", value: 0.9, step: 2 },
        ],
      });
      await runs.logArtifacts(run.id, [
        { path: "model.bin", size: model.size, mode: 0o644, sha256: model.sha256 },
      ]);
      await runs.end(run.id);
      await runs.registry.publishVersion({
        name: "bert",
        files: [{ path: "model.bin", size: model.size, mode: 0o644, sha256: model.sha256 }],
        aliases: ["production"],
      });
      const version = await runs.promote(run.id, { name: "sentiment", base: "bert@production" });
      expect(version).toMatchObject({
        artifact: "sentiment",
        version: "0.1.0",
        params: { lr: 0.1 },
        metrics: { acc: 0.9 },
        data: ["imdb@2.1.0"],
        code,
        run: run.id,
        base: "bert@0.1.0",
      });
      await expect(runs.promote(run.id, { name: "sentiment", base: "nothing@1.0.0" })).rejects.toMatchObject({
        code: "NOT_FOUND",
      });
      expect(version.files.map((f) => f.sha256)).toEqual([model.sha256]);
      expect((await runs.get(run.id)).outputs).toEqual(["sentiment@0.1.0"]);
    });
  });
}
