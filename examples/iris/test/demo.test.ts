/**
 * @module `npm run demo` end to end: runs the built demo into a fresh folder, then asks the store, through
 * the `cairn` command's --json output, whether what the demo says it did really happened.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const DEMO = join(REPO, "examples", "iris", "dist", "demo.js");
const CLI = join(REPO, "packages", "cli", "bin", "cairn.js");

interface ArtifactRow {
  name: string;
  type: string;
  versionCount: number;
}
interface VersionRow {
  version: string;
  metrics: Record<string, number>;
  aliases: string[];
}
interface VersionView extends VersionRow {
  name: string;
  type: string;
  params: Record<string, unknown>;
  data: string[];
  files: Array<{ path: string }>;
  code: { commit: string } | null;
}
interface AliasEvent {
  action: string;
  from: string | null;
  to: string | null;
  reason: string | null;
}

describe("npm run demo", () => {
  let dir: string;
  let run: ReturnType<typeof spawnSync>;

  const cairn = <T>(...args: string[]): T => {
    const env: NodeJS.ProcessEnv = { ...process.env, CAIRN_HOME: join(dir, "store") };
    delete env["CAIRN_URL"];
    const result = spawnSync(process.execPath, [CLI, ...args, "--json"], {
      cwd: REPO,
      env,
      encoding: "utf8",
    });
    if (result.status !== 0)
      throw new Error(`cairn ${args.join(" ")} failed: ${result.stdout}${result.stderr}`);
    return JSON.parse(result.stdout) as T;
  };
  const models = () => cairn<VersionRow[]>("list", "iris-classifier");

  beforeAll(() => {
    if (!existsSync(DEMO)) throw new Error(`${DEMO} is missing: build first (npx tsc -b)`);
    dir = mkdtempSync(join(tmpdir(), "cairn-demo-test-"));
    run = spawnSync(process.execPath, [DEMO], {
      cwd: REPO,
      env: { ...process.env, CAIRN_DEMO_DIR: dir },
      encoding: "utf8",
      timeout: 60_000,
    });
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("runs to the end, printing each cairn command it runs", () => {
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    const out = String(run.stdout);
    for (const command of [
      "push iris ",
      "push iris-classifier ",
      "alias set ",
      "rollback ",
      "diff ",
      "alias history ",
    ]) {
      expect(out).toContain(`$ cairn ${command}`);
    }
    expect(out).toContain("== Summary");
    // The demo cleans its working copies out of the repository once the store holds them.
    const work = /examples\/iris\/out\/run-[^/\s]+/.exec(out)?.[0];
    expect(work).toBeDefined();
    expect(existsSync(join(REPO, work ?? ""))).toBe(false);
  });

  it("records one dataset version and three or four model versions", () => {
    const artifacts = cairn<ArtifactRow[]>("list");
    expect(artifacts.find((a) => a.name === "iris")).toMatchObject({ type: "dataset", versionCount: 1 });
    const classifier = artifacts.find((a) => a.name === "iris-classifier");
    expect(classifier?.type).toBe("model");
    expect(classifier?.versionCount).toBeGreaterThanOrEqual(3);
    expect(classifier?.versionCount).toBeLessThanOrEqual(4);
    const dataset = cairn<VersionView>("show", "iris@0.1.0");
    expect(dataset.files.map((f) => f.path)).toEqual(["iris.csv"]);
  });

  it("links every model to iris@0.1.0 and records its params and held-out metrics", () => {
    for (const row of models()) {
      const v = cairn<VersionView>("show", `iris-classifier@${row.version}`);
      expect(v.data).toEqual(["iris@0.1.0"]);
      expect(Object.keys(v.params)).toEqual(expect.arrayContaining(["learning_rate", "epochs", "l2"]));
      expect(Object.keys(v.metrics)).toEqual(expect.arrayContaining(["accuracy", "macro_f1", "loss"]));
      expect(v.files.map((f) => f.path).sort()).toEqual(["metrics.json", "model.json", "params.json"]);
    }
  });

  it("records the git commit of the training code when the repository is a git work tree", () => {
    const git = spawnSync("git", ["rev-parse", "HEAD"], { cwd: REPO, encoding: "utf8" });
    if (git.status !== 0) return; // e.g. an unpacked tarball: nothing to record, nothing to check
    const v = cairn<VersionView>("show", "iris-classifier@production");
    expect(v.code?.commit).toBe(git.stdout.trim());
  });

  it("leaves production on the best model by recorded held-out accuracy, after rolling a worse one back", () => {
    const rows = models();
    const top = Math.max(...rows.map((r) => r.metrics["accuracy"] ?? Number.NaN));
    const production = cairn<VersionView>("show", "iris-classifier@production");
    expect(production.metrics["accuracy"]).toBe(top);
    // Ties on accuracy go to the lower held-out loss.
    const tied = rows.filter((r) => r.metrics["accuracy"] === top);
    const lowestLoss = Math.min(...tied.map((r) => r.metrics["loss"] ?? Number.NaN));
    expect(production.metrics["loss"]).toBe(lowestLoss);
    // A plausible figure for Iris: a linear model gets 90–100 % of held-out flowers right.
    expect(top).toBeGreaterThanOrEqual(0.9);

    const history = cairn<AliasEvent[]>("alias", "history", "iris-classifier", "production");
    const last = history.at(-1);
    const promoted = history.at(-2);
    expect(last?.action).toBe("rollback");
    expect(last?.to).toBe(production.version);
    expect(last?.from).toBe(promoted?.to);
    expect(promoted?.to).not.toBe(production.version);
    expect(history[0]).toMatchObject({ action: "set", from: null, to: production.version });
    // The rolled-back version really was worse on the held-out flowers.
    const rolledBack = rows.find((r) => r.version === last?.from);
    expect(rolledBack?.metrics["accuracy"]).toBeLessThan(top);
  });
});
