/**
 * @module `cairn reproduce`: rebuilds the working tree a model version (or run) was trained in — the code at
 * the recorded commit with the uncommitted patch applied, each data version at the path it sat at, the params
 * in params.json — and prints the recorded command. Built under a temporary name next to the folder and
 * moved into place last, so a failure never leaves a half-made folder under the name asked for; what a run
 * killed midway left there is removed by the next one.
 */
import { randomBytes } from "node:crypto";
import { lstat, mkdir, readdir, realpath, rm, rmdir, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import {
  CairnError,
  checkRunId,
  invalid,
  parseRef,
  partialFolderName,
  planReproduction,
  type ReproducePlan,
  stalePartialFolders,
} from "@cairn/core";
import type { Command } from "commander";
import {
  abandonCheckout,
  applyPatch,
  type Checkout,
  checkOutCommit,
  moveCheckout,
  worktreeOwner,
} from "../checkout.js";
import { formatBytes, type Output } from "../output.js";
import { defineCommand, withContext } from "../program.js";
import { type RunsBackend, withRuns } from "../runs-backend.js";

const PARAMS_FILE = "params.json";
// When the repository itself tracks a params.json, that file is code: the params go beside it instead.
const PARAMS_FALLBACK = "cairn-params.json";

/** What `cairn reproduce --json` prints. */
export interface ReproduceSummary {
  source: string;
  dir: string;
  code: { commit: string; how: Checkout["how"]; from: string; patchApplied: boolean };
  data: Array<{ ref: string; path: string; files: number; size: number }>;
  params: string;
  command: string | null;
  run: string | null;
}

/** The plan for REF (a version ref or a run id), and the folder name it gets by default. */
async function planFor(runs: RunsBackend, ref: string): Promise<{ plan: ReproducePlan; name: string }> {
  if (ref.includes("@") || ref.includes("#")) {
    parseRef(ref);
    const version = await runs.resolve(ref);
    const run = version.run === null ? null : await runs.get(version.run);
    return { plan: planReproduction({ version, run }), name: `${version.name}-${version.version}` };
  }
  const run = await runs.get(checkRunId(ref));
  return { plan: planReproduction({ run }), name: `run-${run.id}` };
}

/** Whether DIR exists (then it must be an empty folder); anything else there is refused before any work. */
async function existsEmpty(dir: string): Promise<boolean> {
  const found = await lstat(dir).catch(() => null);
  if (found === null) return false;
  if (!found.isDirectory() || (await readdir(dir)).length > 0) {
    throw invalid(`${dir} already exists and is not an empty folder`, {
      hint: "give another folder with -o, or remove it first",
    });
  }
  return true;
}

/** Pulls each data version under the checkout, never through a symlink that leads out of it. */
async function placeDataVersions(runs: RunsBackend, plan: ReproducePlan, root: string) {
  const realRoot = await realpath(root);
  const placed: ReproduceSummary["data"] = [];
  for (const { ref, path } of plan.data) {
    const target = join(root, ...path.split("/"));
    // The deepest part that exists already is checked before any folder is made: nothing is created
    // through a symlink that leads out of the checkout.
    let existing = target;
    while ((await lstat(existing).catch(() => null)) === null) existing = dirname(existing);
    const real = await realpath(existing);
    if (real !== realRoot && !real.startsWith(realRoot + sep)) {
      throw invalid(`refusing to pull ${ref} into ${path}: a symlink in the checkout leads outside it`);
    }
    await mkdir(target, { recursive: true });
    placed.push({ ref, path, ...(await runs.pullData(ref, target)) });
  }
  return placed;
}

async function writeParams(root: string, params: ReproducePlan["params"]): Promise<string> {
  const taken = await lstat(join(root, PARAMS_FILE)).then(
    () => true,
    () => false,
  );
  const name = taken ? PARAMS_FALLBACK : PARAMS_FILE;
  await writeFile(join(root, name), `${JSON.stringify(params, null, 2)}\n`, { flag: "wx" });
  return name;
}

/**
 * Removes the partial folders that runs killed midway (kill -9, a power cut) left in `parent`, with git's
 * record of those that were worktrees, and says so in one line. Partial folders of live runs stay.
 */
async function removeKilledPartials(parent: string, out: Output): Promise<void> {
  const names = await readdir(parent).catch((): string[] => []);
  const { thisMachine } = await import("@cairn/storage");
  const stale = stalePartialFolders(names, thisMachine());
  for (const name of stale) {
    const folder = join(parent, name);
    await abandonCheckout(folder, await worktreeOwner(folder));
  }
  if (stale.length > 0) {
    out.note(`removed what a killed \`cairn reproduce\` left in ${parent}: ${stale.join(", ")}`);
  }
}

async function reproduce(
  runs: RunsBackend,
  ref: string,
  cwd: string,
  output: string | undefined,
  out: Output,
) {
  const { plan, name } = await planFor(runs, ref);
  const dir = resolve(cwd, output ?? name);
  const wasEmpty = await existsEmpty(dir);
  // Read before anything is made: a missing patch fails with nothing to clean up.
  const patch = plan.code.patch === null ? null : await runs.readContent(plan.code.patch);
  const parent = dirname(dir);
  await removeKilledPartials(parent, out);
  const madeParent = await mkdir(parent, { recursive: true });
  const owner = { host: hostname(), pid: process.pid };
  const temp = join(parent, partialFolderName(basename(dir), owner, randomBytes(4).toString("hex")));
  let checkout: Checkout | null = null;
  let removedEmpty = false;
  try {
    checkout = await checkOutCommit(plan.code, cwd, temp);
    if (patch !== null) await applyPatch(checkout, patch);
    const data = await placeDataVersions(runs, plan, temp);
    const params = await writeParams(temp, plan.params);
    if (wasEmpty) {
      await rmdir(dir);
      removedEmpty = true;
    }
    await moveCheckout(checkout, dir);
    const summary: ReproduceSummary = {
      source: plan.source,
      dir,
      code: {
        commit: plan.code.commit,
        how: checkout.how,
        from: checkout.from,
        patchApplied: patch !== null,
      },
      data,
      params,
      command: plan.command,
      run: plan.run,
    };
    return summary;
  } catch (error) {
    await abandonCheckout(temp, checkout?.how === "worktree" ? checkout.from : null);
    if (removedEmpty) await mkdir(dir).catch(() => {});
    if (madeParent !== undefined) await rm(madeParent, { recursive: true, force: true }).catch(() => {});
    throw error;
  }
}

function render(s: ReproduceSummary, cwd: string): string[] {
  const where = relative(cwd, s.dir) || ".";
  const lines = [
    `reproduced ${s.source} in ${where}`,
    `  code    ${s.code.commit.slice(0, 12)}, ${s.code.how === "worktree" ? "a worktree of" : "cloned from"} ${s.code.from}` +
      (s.code.patchApplied ? ", uncommitted patch applied" : ""),
    ...s.data.map(
      (d) =>
        `  data    ${d.ref} → ${d.path} (${d.files} file${d.files === 1 ? "" : "s"}, ${formatBytes(d.size)})`,
    ),
    `  params  ${s.params}`,
  ];
  if (s.command !== null) lines.push("command:", `  cd ${where} && ${s.command}`);
  else lines.push("no command was recorded (record one with `cairn run start --command …`)");
  return lines;
}

export function registerReproduce(program: Command): void {
  defineCommand(program, {
    name: "reproduce",
    description:
      "rebuild the working tree a model version or run was trained in: the code at the recorded commit (a " +
      "git worktree of the repository here, or a clone of the recorded remote) with the uncommitted patch " +
      "applied, each data version pulled to the path it sat at (default data/NAME), the params in " +
      "params.json; prints the recorded command",
    examples: [
      "cairn reproduce sentiment@production",
      "cairn reproduce sentiment@1.2.0 -o ./repro && cd repro && python train.py",
      "cairn reproduce 01j8z3k4m5n6p7q8 --json",
    ],
  })
    .argument("<ref>", "a model version (name@1.2.0, name@production, name#3) or a run id")
    .option(
      "-o, --output <dir>",
      "the folder to make (default ./NAME-VERSION, or ./run-ID); must not hold anything",
    )
    .action(
      withContext(async (ctx, ref: string, opts: { output?: string }) => {
        if (opts.output === "") throw new CairnError("USAGE", "-o needs a folder");
        const summary = await withRuns(ctx, (runs) => reproduce(runs, ref, ctx.cwd, opts.output, ctx.out));
        ctx.out.result(summary, () => render(summary, ctx.cwd));
      }),
    );
}
