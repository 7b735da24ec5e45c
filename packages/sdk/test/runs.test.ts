/**
 * Experiment tracking through the SDK against a real server on port 0 (real SQLite store): a run's params are
 * written once (409 CONFLICT over HTTP), NaN and ±Infinity make the round trip, 100 runs logging at once lose
 * no point, artifacts upload as deduplicated chunks and pull back byte-identical after garbage collection, and
 * promote makes a version carrying the run's params, final metrics, data and code; data paths and a base
 * model are recorded, and a run's code patch reads back.
 */
import { createHash, randomFillSync } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ChunkRef, chunkBuffer } from "@cairn/core";
import { CairnClient, CairnError, chunkFile, type RemoteError } from "@cairn/sdk";
import { buildApp, type CairnApp } from "@cairn/server";
import { collectGarbage, type EmbeddedStore, openEmbeddedStore } from "@cairn/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let dir: string;
let store: EmbeddedStore;
let app: CairnApp;
let client: CairnClient;
let url: string;

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function failure(promise: Promise<unknown>): Promise<RemoteError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(CairnError);
    return error as RemoteError;
  }
  throw new Error("expected a failure");
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cairn-sdk-runs-"));
  store = await openEmbeddedStore(join(dir, ".cairn"));
  app = buildApp({ store });
  url = await app.listen({ port: 0, host: "127.0.0.1" });
  client = new CairnClient({ url, token: "" });
});
afterAll(async () => {
  await app?.close();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("runs over HTTP", () => {
  it("answers a changed param with 409 CONFLICT and keeps the first value; the same value again is fine", async () => {
    const run = await client.startRun({ params: { lr: 0.01 } });
    await run.logParams({ lr: 0.01, batch: 32 });
    const error = await failure(run.logParams({ lr: 0.1 }));
    expect(error.code).toBe("CONFLICT");
    expect(error.status).toBe(409);
    expect((await run.refresh()).params).toEqual({ lr: 0.01, batch: 32 });
  });

  it("carries NaN and ±Infinity both ways, in the history and the final values", async () => {
    const run = await client.startRun({ experiment: "diverge" });
    await run.logMetrics({ loss: Number.NaN, gain: Number.POSITIVE_INFINITY }, 1);
    await run.logMetrics({ loss: Number.NEGATIVE_INFINITY }, 2);
    const history = await client.metricHistory(run.id, "loss");
    expect(history.points.map((p) => [p.step, p.value])).toEqual([
      [1, Number.NaN],
      [2, Number.NEGATIVE_INFINITY],
    ]);
    const got = await client.getRun(run.id);
    expect(got.metrics).toEqual({ loss: Number.NEGATIVE_INFINITY, gain: Number.POSITIVE_INFINITY });
    // On the wire they are the API's strings.
    const raw = await (await fetch(`${client.url}/api/v1/runs/${run.id}`)).json();
    expect(raw.metrics).toEqual({ loss: "-Infinity", gain: "Infinity" });
    const listed = await client.listRuns({ experiment: "diverge" });
    expect(listed.items.map((r) => r.metrics["gain"])).toEqual([Number.POSITIVE_INFINITY]);
  });

  it("loses nothing when 100 runs log 1,000-point batches at once", async () => {
    const runs = await Promise.all(
      Array.from({ length: 100 }, (_, i) => client.startRun({ experiment: "swarm", name: `r${i}` })),
    );
    const batches = 5;
    await Promise.all(
      runs.map(async (run, r) => {
        for (let b = 0; b < batches; b++) {
          const points = Array.from({ length: 1000 }, (_, i) => ({
            key: i % 2 === 0 ? "loss" : "acc",
            value: r * 1e6 + b * 1000 + i,
            step: b * 500 + Math.floor(i / 2),
          }));
          await run.logMetricPoints(points);
        }
      }),
    );
    for (const run of runs) {
      const r = Number(run.view?.name.slice(1));
      const loss = await client.metricHistory(run.id, "loss", { limit: 10_000 });
      expect(loss.points).toHaveLength(2500);
      expect(loss.points.map((p) => p.step)).toEqual(Array.from({ length: 2500 }, (_, i) => i));
      expect(
        loss.points.every((p, i) => p.value === r * 1e6 + Math.floor(i / 500) * 1000 + (i % 500) * 2),
      ).toBe(true);
      expect((await client.metricHistory(run.id, "acc", { limit: 10_000 })).points).toHaveLength(2500);
    }
  }, 120_000);

  it("sends a MetricLogger's points in background batches, all of them, and reports a refusal at flush", async () => {
    const run = await client.startRun();
    const logger = run.metricLogger({ batchSize: 1000, maxInFlight: 3 });
    for (let step = 0; step < 5500; step++) await logger.log({ loss: 1 / (step + 1) }, step);
    await logger.flush();
    const history = await client.metricHistory(run.id, "loss", { limit: 10_000 });
    expect(history.points.map((p) => p.step)).toEqual(Array.from({ length: 5500 }, (_, i) => i));
    await run.end();
    await logger.log({ loss: 0 }, 6000);
    const error = await failure(logger.flush());
    expect(error.code).toBe("CONFLICT");
  });

  it("pages through a long history with the cursor", async () => {
    const run = await client.startRun();
    await run.logMetricPoints(
      Array.from({ length: 2500 }, (_, step) => ({ key: "loss", value: step / 10, step })),
    );
    const steps: number[] = [];
    for await (const p of client.runs.allHistory(run.id, "loss", 1000)) steps.push(p.step);
    expect(steps).toEqual(Array.from({ length: 2500 }, (_, i) => i));
  });

  it("keeps logged artifacts through gc, pulls them back byte-identical, and promotes them with lineage", async () => {
    const weights = Buffer.alloc(3 * 1024 * 1024);
    randomFillSync(weights);
    await writeFile(join(dir, "weights.bin"), weights);
    const data = await client.push({
      name: "imdb",
      type: "dataset",
      version: "2.1.0",
      files: [{ path: "d.csv", source: Buffer.from("x,y\n") }],
    });
    const code = {
      remote: null,
      branch: "main",
      commit: "c".repeat(40),
      dirty: false,
      patch: null,
      path: null,
    };
    const run = await client.startRun({ params: { lr: 0.1 }, data: ["imdb@latest"], code });
    expect(run.view?.data).toEqual([`imdb@${data.version.version}`]);
    await run.logMetrics({ acc: 0.7 }, 1);
    await run.logMetrics({ acc: 0.9 }, 2);
    const after = await run.logArtifact(join(dir, "weights.bin"));
    expect(after.artifacts).toEqual([
      { path: "weights.bin", size: weights.length, sha256: sha256(weights), mode: expect.any(String) },
    ]);
    await run.end();
    expect(await store.content.has(sha256(weights))).toBe(true);
    await collectGarbage(store.content);
    const version = await run.promote({ name: "sentiment" });
    expect(version).toMatchObject({
      params: { lr: 0.1 },
      metrics: { acc: 0.9 },
      data: ["imdb@2.1.0"],
      code,
      run: run.id,
    });
    const out = join(dir, "pulled");
    await client.pull(`sentiment@${version.version}`, out);
    expect(sha256(await readFile(join(out, "weights.bin")))).toBe(sha256(weights));
    expect((await client.getRun(run.id)).outputs).toEqual([`sentiment@${version.version}`]);
    // An ended run takes no more metrics.
    expect((await failure(run.logMetrics({ acc: 1 }, 3))).status).toBe(409);
  }, 60_000);

  it("records where each data version sits and the base a model derives from; reads the code patch back", async () => {
    await client.push({
      name: "squad",
      type: "dataset",
      files: [{ path: "q.json", source: Buffer.from("{}") }],
    });
    await client.push({
      name: "bert",
      version: "1.0.0",
      aliases: ["production"],
      files: [{ path: "bert.bin", source: Buffer.from("bert") }],
    });
    const patch = Buffer.from("diff --git a/train.py b/train.py\n");
    const code = {
      remote: null,
      branch: "main",
      commit: "d".repeat(40),
      dirty: true,
      patch: null,
      path: null,
    };
    const run = await client.startRun({
      data: [{ ref: "squad@latest", path: "corpora/squad" }],
      code,
      patch,
    });
    expect(run.view?.dataPaths).toEqual({ "squad@0.1.0": "corpora/squad" });
    expect(Buffer.from(await client.readContent(run.view?.code?.patch ?? ""))).toEqual(patch);
    await run.logArtifact({ path: "qa.bin", source: Buffer.from("qa") });
    const tuned = await run.promote({ name: "squad-qa", base: "bert@production" });
    expect(tuned.base).toBe("bert@1.0.0");
    const small = await client.push({
      name: "squad-qa-small",
      base: "squad-qa@latest",
      files: [{ path: "small.bin", source: Buffer.from("small") }],
    });
    expect(small.version.base).toBe(`squad-qa@${tuned.version}`);
    expect((await failure(run.promote({ name: "other", base: "nothing@1.0.0" }))).status).toBe(404);
  });
});

describe("run artifacts chunked along what they replace", () => {
  it("a checkpoint logged again follows the one it replaces; a promoted model's file follows its last version", async () => {
    const MiB = 1024 * 1024;
    const given: Array<readonly ChunkRef[] | undefined> = [];
    const recording = new CairnClient({
      url,
      token: "",
      chunker: (source, hints) => {
        given.push(hints?.previous);
        return chunkFile(source, hints);
      },
    });
    const listOf = (bytes: Uint8Array) => chunkBuffer(bytes).map(({ hash, length }) => ({ hash, length }));
    const epoch1 = randomFillSync(Buffer.alloc(9 * MiB));
    const run = await recording.startRun({ experiment: "checkpoints" });
    await run.logArtifact({ path: "ckpt.bin", source: epoch1 });
    expect(given).toEqual([undefined]); // nothing logged there before

    const epoch2 = Buffer.from(epoch1);
    randomFillSync(epoch2, 2 * MiB, 200_000);
    given.length = 0;
    const after = await run.logArtifact({ path: "ckpt.bin", source: epoch2 });
    expect(given).toEqual([listOf(epoch1)]);
    expect(after.artifacts).toEqual([
      { path: "ckpt.bin", size: epoch2.length, sha256: sha256(epoch2), mode: expect.any(String) },
    ]);
    const stored = await store.content.index.getContent(sha256(epoch2));
    expect(stored?.chunks).toEqual(listOf(epoch2)); // the same chunks as chunking without a list

    given.length = 0;
    await run.promote({ name: "checkpointed", files: [{ path: "ckpt.bin", source: epoch1 }] });
    expect(given).toEqual([undefined]); // a new model
    given.length = 0;
    await run.promote({ name: "checkpointed", files: [{ path: "ckpt.bin", source: epoch2 }] });
    expect(given).toEqual([listOf(epoch1)]);
  });
});
