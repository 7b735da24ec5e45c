/**
 * `cairn reproduce` end to end, with a real git repository as the fixture: a tiny training script is
 * committed, edited without committing, run on a dataset version (named by alias, at its own path) with params
 * and a command, promoted; the reproduced folder then holds the same code bytes (uncommitted patch included),
 * the same data bytes at the recorded path and the same params — and running the recorded command there makes
 * the same model. Embedded, and through a real `cairn serve`; as a worktree of the repository, and as a clone
 * of the recorded remote. A commit that cannot be reached fails cleanly and leaves nothing behind, and what a
 * run killed with SIGKILL left (its partial folder, its worktree) is removed by the next run.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { partialFolderName } from "@cairn/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  commitFiles,
  git,
  type RunningCli,
  type RunResult,
  removeSandboxes,
  type Sandbox,
  sandbox,
  serve,
  sha256,
  startCli,
  type VersionJson,
} from "./_cli.js";

afterAll(removeSandboxes);

/** `cairn ARGS…` from another folder than the sandbox's working folder, on the sandbox's store. */
function runIn(s: Sandbox, cwd: string, args: string[]): Promise<RunResult> {
  return startCli(args, { cwd, root: s.root, env: { CAIRN_HOME: s.home } }).done;
}

// Reads its params and its data, writes a model whose bytes depend on both (and on this file's code).
const TRAIN = `import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
const params = JSON.parse(readFileSync("params.json", "utf8"));
const reviews = readFileSync("corpora/imdb/reviews.txt", "utf8");
mkdirSync("out", { recursive: true });
writeFileSync("out/model.bin", JSON.stringify({ version: 1, lr: params.lr, epochs: params.epochs, reviews }));
`;

interface ReproduceJson {
  source: string;
  dir: string;
  code: { commit: string; how: "worktree" | "clone"; from: string; patchApplied: boolean };
  data: Array<{ ref: string; path: string; files: number; size: number }>;
  params: string;
  command: string | null;
  run: string | null;
}

interface Trained {
  runId: string;
  commit: string;
  /** sha256 of every tracked file as it was when the run started (uncommitted edits included). */
  code: Record<string, string>;
  reviews: string;
  model: string;
}

/** sha256 of each file git tracks in `dir` (the index's list, the work tree's bytes). */
function trackedFiles(s: Sandbox, dir: string): Record<string, string> {
  const files = git(s, dir, "ls-files").split("\n").filter(Boolean);
  return Object.fromEntries(files.map((f) => [f, sha256(readFileSync(join(dir, f)))]));
}

/**
 * The fixture repository in the sandbox's working folder, with a training run recorded (embedded, or remote
 * when `env` names a server):
 * committed code, then uncommitted edits (a changed script, a staged new file, a changed binary file).
 */
async function train(s: Sandbox, env: Record<string, string>): Promise<Trained> {
  const repo = s.cwd;
  const at = (...parts: string[]) => join(repo, ...parts);
  git(s, repo, "init", "--quiet", "--initial-branch=main");
  s.write(".gitignore", ".cairn/\ncorpora/\nout/\nparams.json\n");
  s.write("train.mjs", TRAIN);
  s.write("assets/vocab.bin", Buffer.from([0, 1, 2, 255, 254, 10, 13]));
  git(s, repo, "add", ".");
  git(s, repo, "commit", "--quiet", "-m", "first");
  const commit = git(s, repo, "rev-parse", "HEAD");

  s.write("train.mjs", TRAIN.replace("version: 1", "version: 2"));
  s.write("lib/tokenize.mjs", "export const split = (t) => t.split(' ');\n");
  git(s, repo, "add", "lib/tokenize.mjs");
  s.write("assets/vocab.bin", Buffer.from([9, 0, 8, 255, 7]));

  const reviews = "a fine film\nnot good\n";
  s.write("corpora/imdb/reviews.txt", reviews);
  await s.ok(["push", "imdb", at("corpora/imdb"), "--type", "dataset", "--version", "2.1.0"], env);
  await s.ok(["alias", "set", "imdb", "production", "2.1.0"], env);
  s.write("params.json", '{"lr": 0.01, "epochs": 3}');

  const run = async (...args: string[]) => {
    const result = await s.run(args, env);
    if (result.code !== 0) throw new Error(`cairn ${args.join(" ")}: ${result.stderr}`);
    return result.stdout;
  };
  const { id: runId } = JSON.parse(
    await run(
      "run",
      "start",
      "--json",
      "--data",
      "imdb@production=corpora/imdb",
      "--param",
      "lr=0.01",
      "--param",
      "epochs=3",
      "--command",
      "node train.mjs",
    ),
  ) as { id: string };
  const code = trackedFiles(s, repo);
  execFileSync(process.execPath, ["train.mjs"], { cwd: repo });
  await run("run", "log", runId, "--metric", "acc=0.91", "--step", "1");
  await run("run", "artifact", runId, at("out/model.bin"));
  await run("run", "end", runId);
  await run("push", "bert", at("assets"), "--version", "1.0.0", "--alias", "production");
  await run("promote", runId, "sentiment", "--version", "1.0.0", "--base", "bert@production");

  // Afterwards: the alias moves on and the repository gets another commit; neither changes what is rebuilt.
  s.write("corpora/imdb/reviews.txt", "other data\n");
  await run("push", "imdb", at("corpora/imdb"), "--type", "dataset", "--version", "2.2.0");
  await run("alias", "set", "imdb", "production", "2.2.0");
  git(s, repo, "commit", "--quiet", "-am", "later");
  return { runId, commit, code, reviews, model: sha256(readFileSync(at("out/model.bin"))) };
}

/** What must hold of a reproduced folder: code, data, params and the recorded command that remakes the model. */
function expectReproduced(s: Sandbox, dir: string, trained: Trained): void {
  expect(trackedFiles(s, dir)).toEqual(trained.code);
  expect(git(s, dir, "rev-parse", "HEAD")).toBe(trained.commit);
  expect(readFileSync(join(dir, "corpora/imdb/reviews.txt"), "utf8")).toBe(trained.reviews);
  expect(JSON.parse(readFileSync(join(dir, "params.json"), "utf8"))).toEqual({ lr: 0.01, epochs: 3 });
  execFileSync(process.execPath, ["train.mjs"], { cwd: dir });
  expect(sha256(readFileSync(join(dir, "out/model.bin")))).toBe(trained.model);
}

/** Waits, checking every 2 ms, until `found` returns a value; fails if the process ends first. */
async function whileRunning<T>(run: RunningCli, found: () => T | undefined, what: string): Promise<T> {
  let ended = false;
  void run.done.then(() => {
    ended = true;
  });
  for (;;) {
    const value = found();
    if (value !== undefined) return value;
    if (ended) throw new Error(`the process ended before ${what}:\n${(await run.done).stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** No folder named like `dir`, half-made or not, next to it. */
function expectNothingLeft(parent: string, name: string): void {
  expect(existsSync(join(parent, name))).toBe(false);
  expect(readdirSync(parent).filter((f) => f.includes(name))).toEqual([]);
}

describe("cairn reproduce, embedded", () => {
  let s: Sandbox;
  let trained: Trained;

  beforeAll(async () => {
    s = await sandbox();
    trained = await train(s, {});
  });

  it("rebuilds the trained tree as a worktree: same code bytes, same data at its path, same params", async () => {
    const result = await s.run(["reproduce", "sentiment@1.0.0", "-o", join(s.root, "repro")]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("reproduced sentiment@1.0.0");
    expect(result.stdout).toContain("imdb@2.1.0 → corpora/imdb");
    expect(result.stdout).toContain("node train.mjs");
    expectReproduced(s, join(s.root, "repro"), trained);
    expect(git(s, s.cwd, "worktree", "list")).toContain(join(s.root, "repro"));
  });

  it("reproduces a run by id as JSON, into a folder named after it by default", async () => {
    const summary = await s.json<ReproduceJson>(["reproduce", trained.runId]);
    expect(summary).toEqual({
      source: `run:${trained.runId}`,
      dir: s.path(`run-${trained.runId}`),
      code: { commit: trained.commit, how: "worktree", from: s.cwd, patchApplied: true },
      data: [{ ref: "imdb@2.1.0", path: "corpora/imdb", files: 1, size: trained.reviews.length }],
      params: "params.json",
      command: "node train.mjs",
      run: trained.runId,
    });
    expectReproduced(s, summary.dir, trained);
  });

  it("clones the recorded remote when run outside the repository", async () => {
    const bare = join(s.root, "origin.git");
    git(s, s.root, "clone", "--quiet", "--bare", s.cwd, bare);
    // A second training run, recorded with the remote in place.
    git(s, s.cwd, "remote", "add", "origin", bare);
    s.write("train.mjs", TRAIN.replace("version: 1", "version: 3"));
    const runId = (
      await s.json<{ id: string }>(["run", "start", "--param", "lr=0.5", "--command", "node train.mjs"])
    ).id;
    const code = trackedFiles(s, s.cwd);
    const elsewhere = join(s.root, "elsewhere");
    mkdirSync(elsewhere);
    const result = await runIn(s, elsewhere, ["reproduce", runId, "-o", "repro", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      code: { how: "clone", from: bare, patchApplied: true },
    });
    expect(trackedFiles(s, join(elsewhere, "repro"))).toEqual(code);
  });

  it("refuses a folder that is not empty, and leaves it as it was", async () => {
    s.write("taken/keep.txt", "mine");
    const error = await s.jsonError(["reproduce", "sentiment@1.0.0", "-o", "taken"]);
    expect(error.code).toBe("INVALID");
    expect(readdirSync(s.path("taken"))).toEqual(["keep.txt"]);
  });
});

describe("cairn reproduce, through cairn serve", () => {
  it("rebuilds the same tree from a server: the patch and the data come over HTTP", async () => {
    const host = await sandbox();
    const { url, server } = await serve(host);
    try {
      const client = await sandbox({ init: false });
      const env = { CAIRN_URL: url, CAIRN_CACHE: join(client.root, "cache") };
      const trained = await train(client, env);
      const version = await client.json<VersionJson & { base: string | null }>(
        ["show", "sentiment@1.0.0"],
        env,
      );
      expect(version.base).toBe("bert@1.0.0");
      const summary = await client.json<ReproduceJson>(
        ["reproduce", "sentiment@1.0.0", "-o", "../repro"],
        env,
      );
      expect(summary).toMatchObject({
        source: "sentiment@1.0.0",
        code: { how: "worktree", patchApplied: true },
        command: "node train.mjs",
      });
      expectReproduced(client, join(client.root, "repro"), trained);
    } finally {
      server.child.kill("SIGTERM");
      await server.done;
    }
  });
});

describe("cairn reproduce, when it cannot finish", () => {
  it("fails with NOT_FOUND, exit 1, and leaves no folder and no worktree behind", async () => {
    const s = await sandbox();
    commitFiles(s, { "train.py": "print('hi')\n" }, "only here");
    s.write("out/model.bin", "weights");
    await s.ok(["push", "clf", "out", "--version", "1.0.0"]);

    // Another repository, without that commit and without a remote.
    const other = join(s.root, "other");
    s.write("../other/README.md", "other\n");
    git(s, other, "init", "--quiet", "--initial-branch=main");
    git(s, other, "add", ".");
    git(s, other, "commit", "--quiet", "-m", "unrelated");
    const result = await runIn(s, other, ["reproduce", "clf@1.0.0", "-o", "repro"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("cannot be reached");
    expectNothingLeft(other, "repro");
    expect(git(s, other, "worktree", "list").split("\n")).toHaveLength(1);

    // A recorded remote that is gone: the clone fails, and nothing is left either.
    git(s, s.cwd, "remote", "add", "origin", join(s.root, "gone.git"));
    s.write("out/model.bin", "weights 2");
    await s.ok(["push", "clf", "out", "--version", "1.1.0"]);
    const error = await runIn(s, other, ["reproduce", "clf@1.1.0", "-o", join(s.root, "repro2"), "--json"]);
    expect(error.code).toBe(1);
    expect(JSON.parse(error.stdout).error.code).toBe("NOT_FOUND");
    expectNothingLeft(s.root, "repro2");
  });

  it("removes the worktree it made when a later step fails (data through a symlink out of the checkout)", async () => {
    const s = await sandbox();
    git(s, s.cwd, "init", "--quiet", "--initial-branch=main");
    mkdirSync(join(s.root, "outside"));
    symlinkSync("../outside", s.path("data"));
    git(s, s.cwd, "add", "data");
    git(s, s.cwd, "commit", "--quiet", "-m", "data is a link");
    s.write("../ds/rows.csv", "1,2\n");
    await s.ok(["push", "ds", join(s.root, "ds"), "--type", "dataset", "--version", "1.0.0"]);
    const runId = (await s.json<{ id: string }>(["run", "start", "--data", "ds@1.0.0"])).id;
    const error = await s.jsonError(["reproduce", runId, "-o", "../repro"]);
    expect(error.code).toBe("INVALID");
    expect(error.message).toContain("symlink");
    expectNothingLeft(s.root, "repro");
    expect(readdirSync(join(s.root, "outside"))).toEqual([]);
    expect(git(s, s.cwd, "worktree", "list").split("\n")).toHaveLength(1);
  });

  it("after a run killed with SIGKILL, the next one removes its partial folder and worktree, and finishes", async () => {
    const s = await sandbox();
    commitFiles(s, { "train.py": "print('hi')\n" }, "only here");
    // Large enough that the kill lands while the data is still being pulled.
    const rows = randomBytes(48 * 1024 * 1024);
    s.write("../big/rows.bin", rows);
    await s.ok(["push", "big", join(s.root, "big"), "--type", "dataset", "--version", "1.0.0"]);
    const runId = (await s.json<{ id: string }>(["run", "start", "--data", "big@1.0.0"])).id;
    const partials = () => readdirSync(s.root).filter((f) => f.startsWith(".repro.cairn-partial-"));

    const killed = s.start(["reproduce", runId, "-o", "../repro"]);
    // The worktree is made and the data is on its way in.
    const partial = await whileRunning(
      killed,
      () => partials().find((f) => existsSync(join(s.root, f, "data/big"))),
      "it pulled data",
    );
    killed.child.kill("SIGKILL");
    expect((await killed.done).signal, "it finished before it was killed").toBe("SIGKILL");
    expect(existsSync(join(s.root, "repro"))).toBe(false);
    expect(git(s, s.cwd, "worktree", "list")).toContain(join(s.root, partial));
    // A reproduce running now, into another folder here: its partial folder is not touched.
    const live = partialFolderName("other", { host: hostname(), pid: process.pid }, "0123abcd");
    mkdirSync(join(s.root, live));

    const again = await s.run(["reproduce", runId, "-o", "../repro"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr.trim().split("\n")).toEqual([
      `removed what a killed \`cairn reproduce\` left in ${s.root}: ${partial}`,
    ]);
    expect(readFileSync(join(s.root, "repro/data/big/rows.bin")).equals(rows)).toBe(true);
    expect(readFileSync(join(s.root, "repro/train.py"), "utf8")).toBe("print('hi')\n");
    expect(partials()).toEqual([]);
    expect(existsSync(join(s.root, live))).toBe(true);
    const worktrees = git(s, s.cwd, "worktree", "list", "--porcelain")
      .split("\n")
      .filter((line) => line.startsWith("worktree "));
    expect(worktrees).toEqual([`worktree ${s.cwd}`, `worktree ${join(s.root, "repro")}`]);
  });
});
