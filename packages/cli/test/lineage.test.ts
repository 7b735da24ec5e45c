/**
 * `cairn lineage` on the embedded store: a dataset pushed, a run reading it, the run promoted to a model
 * version; the walk answers both ways by version ref, alias and run id, in text, JSON, dot and Mermaid.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeSandboxes, type Sandbox, sandbox } from "./_cli.js";

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
    const server = box.start(["serve", "--port", "0", "--json"]);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        server.child.stdout?.on("data", (text: Buffer | string) => {
          out += String(text);
          const match = /"url":\s*"([^"]+)"/.exec(out);
          if (match?.[1]) resolve(match[1]);
        });
        server.done.then((r) => reject(new Error(`cairn serve ended: ${r.stderr}`)));
      });
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

  it("refuses an unknown run and a bad format", async () => {
    expect((await box.jsonError(["lineage", "no-such-run"])).code).toBe("NOT_FOUND");
    expect((await box.run(["lineage", runId, "--format", "png"])).code).toBe(2);
  });
});
