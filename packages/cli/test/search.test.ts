/**
 * `cairn search` on the embedded store and through `cairn serve`: the same hits either way, runs with --runs,
 * a grammar error exits 1 with INVALID pointing at the column, and injection attempts match nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningCli, removeSandboxes, type Sandbox, sandbox, serve } from "./_cli.js";

afterAll(removeSandboxes);

interface PageJson {
  hits: { kind: string; artifact?: string; version?: string; name?: string }[];
  nextCursor: string | null;
}

let box: Sandbox;
let server: RunningCli;
let url: string;

beforeAll(async () => {
  box = await sandbox();
  box.write("imdb/train.txt", "good movie\n");
  await box.ok(["push", "imdb", "imdb", "--type", "dataset", "--version", "2.1.0"]);
  box.write("model/w.bin", "weights-1");
  await box.ok([
    "push",
    "bert",
    "model",
    "--version",
    "1.0.0",
    "--metric",
    "accuracy=0.91",
    "--param",
    "lr=0.01",
    "--tag",
    "team=nlp",
    "--data",
    "imdb@2.1.0",
  ]);
  box.write("model/w.bin", "weights-2");
  await box.ok([
    "push",
    "bert",
    "model",
    "--version",
    "1.1.0",
    "--metric",
    "accuracy=0.85",
    "--param",
    "lr=0.1",
    "--tag",
    "team=nlp",
  ]);
  const run = await box.json<{ id: string }>([
    "run",
    "start",
    "--experiment",
    "sentiment",
    "--name",
    "first",
    "--param",
    "lr=0.01",
  ]);
  await box.ok(["run", "log", run.id, "--metric", "accuracy=0.93"]);
  ({ url, server } = await serve(box));
});
afterAll(async () => {
  server?.child.kill("SIGTERM");
  await server?.done;
});

describe("cairn search", () => {
  it("finds the same versions embedded and remote", async () => {
    const query = "metrics.accuracy > 0.9 and params.lr = 0.01 and tags.team = 'nlp' and data = 'imdb@2.1.0'";
    const embedded = await box.json<PageJson>(["search", query]);
    expect(embedded).toEqual({
      hits: [{ kind: "version", artifact: "bert", version: "1.0.0" }],
      nextCursor: null,
    });
    expect(await box.json<PageJson>(["search", query], { CAIRN_URL: url })).toEqual(embedded);
    const text = await box.ok(["search", "name = 'bert' order by metrics.accuracy desc"]);
    expect(text).toMatch(/bert@1\.0\.0[\s\S]*bert@1\.1\.0/);
  });

  it("searches runs with --runs and pages with --limit and --cursor", async () => {
    const runs = await box.json<PageJson>([
      "search",
      "metrics.accuracy > 0.9 and experiment = 'sentiment'",
      "--runs",
    ]);
    expect(runs.hits.map((hit) => hit.name)).toEqual(["first"]);
    const first = await box.json<PageJson>(["search", "order by version", "--limit", "1"]);
    expect(first.nextCursor).not.toBeNull();
    const rest = await box.json<PageJson>(["search", "order by version", "--cursor", first.nextCursor ?? ""]);
    expect([...first.hits, ...rest.hits].map((h) => `${h.artifact}@${h.version}`)).toEqual([
      "bert@1.0.0",
      "bert@1.1.0",
      "imdb@2.1.0",
    ]);
  });

  it("exits 1 with INVALID pointing at the column on a grammar error, embedded and remote", async () => {
    const error = await box.jsonError(["search", "metrics.accuracy > 0.9 and"]);
    expect(error.code).toBe("INVALID");
    expect(error.message).toMatch(/expected a field .* at column 27/);
    const remote = await box.run(["search", "metrics.accuracy >", "--json"], { CAIRN_URL: url });
    expect(remote.code).toBe(1);
    expect(remote.stdout + remote.stderr).toMatch(/expected a value at column 19/);
  });

  it("treats injection attempts as plain values", async () => {
    expect((await box.json<PageJson>(["search", "tags.team = 'nlp'' or 1=1 --'"])).hits).toEqual([]);
    expect((await box.json<PageJson>(["search", `tags."team' OR 1=1; --" = 'nlp'`])).hits).toEqual([]);
    expect((await box.json<PageJson>(["search", ""])).hits).toHaveLength(3);
  });
});
