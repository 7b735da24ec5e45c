/**
 * `cairn lineage` on the embedded store: a dataset pushed, a run reading it, the run promoted to a model
 * version; the walk answers both ways by version ref, alias and run id, in text, JSON, dot and Mermaid.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeSandboxes, type Sandbox, sandbox, serve } from "./_cli.js";

afterAll(removeSandboxes);

interface GraphJson {
  root: string;
  nodes: string[];
  edges: { from: string; to: string; kind: string }[];
}

let box: Sandbox;
let runId: string;

beforeAll(async () => {
  box = await sandbox();
  box.write("imdb/train.txt", "good movie\n");
  await box.ok(["push", "imdb", "imdb", "--type", "dataset", "--version", "2.1.0"]);
  runId = (await box.json<{ id: string }>(["run", "start", "--data", "imdb@2.1.0"])).id;
  box.write("out/model.bin", "weights");
  await box.ok(["promote", runId, "bert", "out", "--version", "1.0.0"]);
  await box.ok(["alias", "set", "bert", "production", "1.0.0"]);
});

describe("cairn lineage", () => {
  it("walks down from the dataset and up from the model's alias", async () => {
    const down = await box.json<GraphJson>(["lineage", "imdb@2.1.0", "--down"]);
    expect(down.nodes).toEqual(["bert@1.0.0", "imdb@2.1.0", `run:${runId}`]);
    const up = await box.json<GraphJson>(["lineage", "bert@production", "--up"]);
    expect(up.root).toBe("bert@1.0.0");
    expect(up.edges).toContainEqual({ from: `run:${runId}`, to: "bert@1.0.0", kind: "produced" });
    expect(up.edges).toContainEqual({ from: "imdb@2.1.0", to: `run:${runId}`, kind: "input" });
  });

  it("starts from a run id, with a depth, in every format", async () => {
    const text = await box.ok(["lineage", runId, "--depth", "1"]);
    expect(text).toContain(`imdb@2.1.0 --read by--> run:${runId}`);
    expect(text).toContain(`run:${runId} --produced--> bert@1.0.0`);
    expect(await box.ok(["lineage", runId, "--format", "dot"])).toMatch(/^digraph lineage \{/);
    expect(await box.ok(["lineage", runId, "--format", "mermaid"])).toMatch(/^flowchart LR/);
  });

  it("answers the same through cairn serve", async () => {
    const { url, server } = await serve(box);
    try {
      for (const args of [
        ["lineage", "imdb@2.1.0", "--down"],
        ["lineage", runId, "--depth", "1"],
      ]) {
        expect(await box.json<GraphJson>(args, { CAIRN_URL: url })).toEqual(await box.json<GraphJson>(args));
      }
      const missing = await box.run(["lineage", "no-such-run", "--json"], { CAIRN_URL: url });
      expect(missing.code).toBe(1);
      expect(missing.stdout + missing.stderr).toContain("NOT_FOUND");
    } finally {
      server.child.kill("SIGTERM");
      await server.done;
    }
  });

  it("records --base on push and promote as the exact version, and walks the base edge up and down", async () => {
    // Fine-tuned from bert@production by a run, distilled from that by a plain push: aliases stored exact.
    const tuneRun = (await box.json<{ id: string }>(["run", "start", "--data", "imdb@2.1.0"])).id;
    box.write("tuned/model.bin", "tuned weights");
    const tuned = await box.json<{ base: string | null }>([
      "promote",
      tuneRun,
      "bert-tuned",
      "tuned",
      "--version",
      "1.0.0",
      "--base",
      "bert@production",
    ]);
    expect(tuned.base).toBe("bert@1.0.0");
    box.write("small/model.bin", "small weights");
    await box.ok(["push", "bert-small", "small", "--version", "0.1.0", "--base", "bert-tuned@latest"]);
    expect(await box.ok(["show", "bert-small@0.1.0"])).toContain("base      bert-tuned@1.0.0");

    const up = await box.json<GraphJson>(["lineage", "bert-small@0.1.0", "--up"]);
    expect(up.edges).toContainEqual({ from: "bert-tuned@1.0.0", to: "bert-small@0.1.0", kind: "base" });
    expect(up.edges).toContainEqual({ from: "bert@1.0.0", to: "bert-tuned@1.0.0", kind: "base" });
    expect(up.nodes).toEqual(
      [
        "bert-small@0.1.0",
        "bert-tuned@1.0.0",
        "bert@1.0.0",
        "imdb@2.1.0",
        `run:${runId}`,
        `run:${tuneRun}`,
      ].sort(),
    );
    const down = await box.json<GraphJson>(["lineage", "bert@production", "--down"]);
    expect(down.edges).toEqual([
      { from: "bert-tuned@1.0.0", to: "bert-small@0.1.0", kind: "base" },
      { from: "bert@1.0.0", to: "bert-tuned@1.0.0", kind: "base" },
    ]);
    expect(await box.ok(["lineage", "bert@1.0.0", "--down"])).toContain(
      "bert@1.0.0 --base of--> bert-tuned@1.0.0",
    );

    // An unknown base is refused before anything is stored.
    box.write("other/model.bin", "other");
    expect((await box.jsonError(["push", "other", "other", "--base", "nothing@1.0.0"])).code).toBe(
      "NOT_FOUND",
    );
    expect((await box.jsonError(["list", "other"])).code).toBe("NOT_FOUND");
  });

  it("refuses an unknown run and a bad format", async () => {
    expect((await box.jsonError(["lineage", "no-such-run"])).code).toBe("NOT_FOUND");
    expect((await box.run(["lineage", runId, "--format", "png"])).code).toBe(2);
  });
});
