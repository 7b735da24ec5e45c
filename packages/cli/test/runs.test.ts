/**
 * `cairn run`, `cairn promote`, `cairn metrics` and `cairn diff` of runs, through the real binary on a real
 * store, in a real git repository: a changed param fails with CONFLICT (exit 1) and changes nothing, NaN and
 * ±Infinity print by name in text, --json and --csv, a promoted version inherits the run's params, final
 * metrics, data and code (uncommitted patch included) with `run` set, and a run's artifacts survive `cairn gc`
 * and pull back byte-identical.
 */
import { randomFillSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { git, removeSandboxes, type Sandbox, sandbox, serve, sha256, type VersionJson } from "./_cli.js";

afterAll(removeSandboxes);

interface RunJson {
  id: string;
  experiment: string;
  name: string;
  status: string;
  params: Record<string, unknown>;
  metrics: Record<string, number | string>;
  tags: Record<string, string>;
  data: string[];
  artifacts: { path: string; sha256: string; size: number }[];
  code: { commit: string; dirty: boolean; patch: string | null; branch: string | null } | null;
  environment: { runtime?: { node?: string }; lockFiles?: Record<string, string> } | null;
  outputs: string[];
}

let s: Sandbox;
let commit: string;
const weights = Buffer.alloc(600 * 1024);
randomFillSync(weights);

beforeAll(async () => {
  s = await sandbox();
  s.write(".gitignore", ".cairn/\nout/\ndata/\n");
  s.write("train.py", "print('train')\n");
  s.write("package-lock.json", '{"lockfileVersion": 3}\n');
  git(s, s.cwd, "init", "--quiet", "--initial-branch=main");
  git(s, s.cwd, "add", ".gitignore", "train.py", "package-lock.json");
  git(s, s.cwd, "commit", "--quiet", "-m", "first");
  commit = git(s, s.cwd, "rev-parse", "HEAD");
  // An uncommitted change: the run must record it as a patch.
  s.write("train.py", "print('train, tuned')\n");
  s.write("data/imdb.csv", "text,label\ngood,1\n");
  s.write("out/model.bin", weights);
  await s.ok(["push", "imdb", "data", "--type", "dataset", "--version", "2.1.0"]);
});

async function start(...args: string[]): Promise<string> {
  return (await s.json<{ id: string }>(["run", "start", ...args])).id;
}

describe("cairn run", () => {
  it("prints the new run's id, and {id} with --json; records data, params, code and environment", async () => {
    const text = (await s.ok(["run", "start", "--experiment", "cli", "--name", "plain"])).trim();
    expect(text).toMatch(/^[0-9a-z]{16}$/);
    const id = await start("--data", "imdb@latest", "--param", "lr=0.01", "--tag", "team=nlp");
    const run = await s.json<RunJson>(["run", "show", id]);
    expect(run).toMatchObject({
      id,
      experiment: "default",
      status: "running",
      params: { lr: 0.01 },
      tags: { team: "nlp" },
    });
    expect(run.data).toEqual(["imdb@2.1.0"]);
    expect(run.code).toMatchObject({ commit, dirty: true, branch: "main" });
    expect(run.code?.patch).toMatch(/^[0-9a-f]{64}$/);
    expect(run.environment?.runtime?.node).toBe(process.version);
    expect(run.environment?.lockFiles?.["package-lock.json"]).toBe(
      sha256(readFileSync(s.path("package-lock.json"))),
    );
    const listed = await s.json<{ id: string }[]>(["run", "list"]);
    expect(listed.map((r) => r.id)).toEqual([id, text]);
  });

  it("refuses to change a logged param: CONFLICT, exit 1, nothing changed; the same value is fine", async () => {
    const id = await start("--param", "lr=0.01");
    await s.ok(["run", "log", id, "--param", "lr=0.01", "--param", "epochs=3"]);
    const refused = await s.run(["run", "log", id, "--param", "lr=0.1", "--metric", "loss=1"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("param lr");
    expect(await s.jsonError(["run", "log", id, "--param", "lr=0.1"])).toMatchObject({ code: "CONFLICT" });
    const run = await s.json<RunJson>(["run", "show", id]);
    expect(run.params).toEqual({ lr: 0.01, epochs: 3 });
    expect(run.metrics).toEqual({});
  });

  it("shows NaN and ±Infinity by name in text, --json and --csv", async () => {
    const id = await start();
    await s.ok(["run", "log", id, "--metric", "loss=0.5", "--step", "1"]);
    await s.ok(["run", "log", id, "--metric", "loss=NaN", "--metric", "gain=inf", "--step", "2"]);
    await s.ok(["run", "log", id, "--metric", "loss=-Infinity", "--step", "3"]);
    const shown = await s.ok(["run", "show", id]);
    expect(shown).toMatch(/loss = -Infinity/);
    expect(shown).toMatch(/gain = Infinity/);
    const json = await s.json<{ points: { step: number; value: number | string }[] }>([
      "metrics",
      id,
      "loss",
    ]);
    expect(json.points.map((p) => [p.step, p.value])).toEqual([
      [1, 0.5],
      [2, "NaN"],
      [3, "-Infinity"],
    ]);
    expect(await s.ok(["metrics", id, "loss", "--csv"])).toMatch(
      /^step,value,timestamp\n1,0\.5,\d+\n2,NaN,\d+\n3,-Infinity,\d+\n$/,
    );
    expect(await s.ok(["metrics", id, "loss"])).toMatch(/^2 {2}NaN {2}/m);
    const last = await s.json<{ metrics: Record<string, unknown> }>(["metrics", id]);
    expect(last.metrics).toEqual({ gain: "Infinity", loss: "-Infinity" });
  });

  it("refuses metrics once the run has ended, and ends only once", async () => {
    const id = await start();
    await s.ok(["run", "end", id, "--status", "killed"]);
    expect(await s.jsonError(["run", "log", id, "--metric", "x=1"])).toMatchObject({ code: "CONFLICT" });
    expect(await s.jsonError(["run", "end", id])).toMatchObject({ code: "CONFLICT" });
    expect((await s.run(["run", "end", id, "--status", "paused"])).code).toBe(2);
    expect(await s.jsonError(["run", "show", "0000000000zzzzzz"])).toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("cairn promote", () => {
  it("makes a version from the run's artifacts with its params, final metrics, data and code; gc keeps them", async () => {
    const id = await start("--data", "imdb@2.1.0", "--param", "lr=0.01");
    for (const [step, acc] of [
      [1, "0.7"],
      [2, "0.9"],
      [3, "0.85"],
    ] as const) {
      await s.ok(["run", "log", id, "--metric", `acc=${acc}`, "--step", String(step)]);
    }
    await s.ok(["run", "artifact", id, "out/model.bin"]);
    await s.ok(["run", "end", id]);
    const run = await s.json<RunJson>(["run", "show", id]);
    // Only the run holds the artifact and the patch: garbage collection must keep them.
    await s.ok(["gc"]);
    await s.ok(["verify"]);
    const version = await s.json<VersionJson & { run: string | null; code: RunJson["code"] }>([
      "promote",
      id,
      "sentiment",
      "--alias",
      "staging",
    ]);
    expect(version).toMatchObject({
      name: "sentiment",
      version: "0.1.0",
      params: { lr: 0.01 },
      metrics: { acc: 0.85 },
      data: ["imdb@2.1.0"],
      run: id,
      aliases: ["staging"],
    });
    expect(version.code).toEqual(run.code);
    expect(version.files.map((f) => [f.path, f.sha256])).toEqual([["model.bin", sha256(weights)]]);
    await s.ok(["pull", "sentiment@staging", "-o", "pulled"]);
    expect(sha256(readFileSync(s.path("pulled", "model.bin")))).toBe(sha256(weights));
    expect((await s.json<RunJson>(["run", "show", id])).outputs).toEqual(["sentiment@0.1.0"]);
    // The version's metrics are the run's: `cairn metrics REF KEY` reads the run's curve.
    const curve = await s.json<{ run: string; points: { step: number }[] }>([
      "metrics",
      "sentiment@0.1.0",
      "acc",
    ]);
    expect(curve.run).toBe(id);
    expect(curve.points.map((p) => p.step)).toEqual([1, 2, 3]);
  });

  it("takes PATHs instead of the artifacts, and says so when a run has neither", async () => {
    const id = await start("--param", "lr=0.02");
    expect(await s.jsonError(["promote", id, "sentiment"])).toMatchObject({ code: "INVALID" });
    const version = await s.json<VersionJson>([
      "promote",
      id,
      "sentiment",
      "out/model.bin",
      "--bump",
      "major",
    ]);
    expect(version).toMatchObject({ version: "1.0.0", params: { lr: 0.02 } });
  });
});

describe("cairn diff of runs", () => {
  it("compares params, final metrics and the curves step by step", async () => {
    const a = await start("--param", "lr=0.01");
    const b = await start("--param", "lr=0.1");
    await s.ok(["run", "log", a, "--metric", "loss=1", "--step", "1"]);
    await s.ok(["run", "log", a, "--metric", "loss=0.5", "--step", "2"]);
    await s.ok(["run", "log", b, "--metric", "loss=0.8", "--step", "1"]);
    await s.ok(["run", "log", b, "--metric", "loss=NaN", "--step", "2"]);
    const diff = await s.json<{
      params: { changed: Record<string, unknown> };
      curves: Record<string, { step: number; a: unknown; b: unknown }[]>;
    }>(["diff", a, b]);
    expect(diff.params.changed).toEqual({ lr: [0.01, 0.1] });
    expect(diff.curves["loss"]?.map((c) => [c.step, c.a, c.b])).toEqual([
      [1, 1, 0.8],
      [2, 0.5, "NaN"],
    ]);
    const text = await s.ok(["diff", a, b]);
    expect(text).toContain("curve loss:");
    expect(text).toMatch(/2 +0\.5 +NaN/);
  });
});

describe("cairn run against a server (CAIRN_URL)", () => {
  it("starts, logs, stores artifacts, promotes and diffs through the SDK, with the same rules", async () => {
    const server = await sandbox();
    const { url, server: serving } = await serve(server);
    try {
      const remote = { CAIRN_URL: url };
      // The server's store gets the dataset (push itself is not remote yet).
      server.write("data/imdb.csv", "text,label\ngood,1\n");
      await server.ok(["push", "imdb", "data", "--type", "dataset", "--version", "2.1.0"]);
      const { id } = await s.json<{ id: string }>(
        ["run", "start", "--data", "imdb@2.1.0", "--param", "lr=0.3"],
        remote,
      );
      await s.ok(["run", "log", id, "--metric", "loss=NaN", "--step", "1"], remote);
      await s.ok(["run", "log", id, "--metric", "loss=0.25", "--step", "2"], remote);
      const refused = await s.run(["run", "log", id, "--param", "lr=0.4", "--json"], remote);
      expect(refused.code).toBe(1);
      expect(JSON.parse(refused.stdout)).toMatchObject({ error: { code: "CONFLICT" } });
      await s.ok(["run", "artifact", id, "out/model.bin"], remote);
      await s.ok(["run", "end", id], remote);
      const run = await s.json<RunJson>(["run", "show", id], remote);
      expect(run).toMatchObject({
        status: "finished",
        params: { lr: 0.3 },
        data: ["imdb@2.1.0"],
        metrics: { loss: 0.25 },
      });
      expect(run.code).toMatchObject({ commit, dirty: true });
      expect(run.code?.patch).toMatch(/^[0-9a-f]{64}$/);
      expect(run.environment?.lockFiles?.["package-lock.json"]).toBe(
        sha256(readFileSync(s.path("package-lock.json"))),
      );
      expect(run.artifacts.map((f) => f.sha256)).toEqual([sha256(weights)]);
      const history = await s.json<{ points: { value: unknown }[] }>(["metrics", id, "loss"], remote);
      expect(history.points.map((p) => p.value)).toEqual(["NaN", 0.25]);
      const version = await s.json<VersionJson & { run: string }>(["promote", id, "remote-model"], remote);
      expect(version).toMatchObject({
        name: "remote-model",
        run: id,
        params: { lr: 0.3 },
        metrics: { loss: 0.25 },
      });
      // The server's own store holds it all (read embedded, beside the running server).
      const stored = await server.json<RunJson>(["run", "show", id]);
      expect(stored.outputs).toEqual([`remote-model@${version.version}`]);
      await server.ok(["gc"]);
      await server.ok(["pull", `remote-model@${version.version}`, "-o", "pulled"]);
      expect(sha256(readFileSync(server.path("pulled", "model.bin")))).toBe(sha256(weights));
      const other = (await s.json<{ id: string }>(["run", "start"], remote)).id;
      await s.ok(["run", "log", other, "--metric", "loss=0.5", "--step", "2"], remote);
      const diff = await s.json<{ curves: Record<string, { step: number }[]> }>(["diff", id, other], remote);
      expect(diff.curves["loss"]?.map((c) => c.step)).toEqual([1, 2]);
    } finally {
      serving.child.kill("SIGTERM");
      await serving.done;
    }
  }, 60_000);
});
