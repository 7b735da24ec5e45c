/**
 * @module `cairn run …`: experiment tracking from the shell — start a run (with its data, params, code and
 * environment), log params, metrics and tags to it, store artifacts, end it, show it and list runs.
 */
import {
  CairnError,
  checkRunStatus,
  formatMetric,
  type RunStatus,
  type RunSummary,
  type RunView,
} from "@cairn/core";
import type { Command } from "commander";
import { captureGit } from "../git.js";
import { collectFiles } from "../local-files.js";
import { formatBytes, formatTime, table } from "../output.js";
import { collect, defineCommand, withContext } from "../program.js";
import { withRuns } from "../runs-backend.js";
import { readMetrics, readParams, readTags } from "../values.js";

const show = (value: unknown): string => (typeof value === "string" ? value : JSON.stringify(value));

export function renderRun(run: RunView): string[] {
  const lines = [
    `run ${run.id}${run.name !== run.id ? ` (${run.name})` : ""}`,
    `experiment: ${run.experiment}`,
    `status:     ${run.status}`,
    `started:    ${formatTime(run.startTime)} by ${run.createdBy}`,
  ];
  if (run.endTime) lines.push(`ended:      ${formatTime(run.endTime)}`);
  const section = (title: string, entries: [string, string][]) => {
    if (entries.length === 0) return;
    lines.push(`${title}:`, ...entries.map(([k, v]) => `  ${k} = ${v}`));
  };
  section(
    "params",
    Object.entries(run.params).map(([k, v]) => [k, show(v)]),
  );
  section(
    "metrics (last value)",
    Object.entries(run.metrics).map(([k, v]) => [k, formatMetric(v)]),
  );
  section("tags", Object.entries(run.tags));
  if (run.data.length > 0) {
    lines.push("data:", ...run.data.map((d) => `  ${d}${run.dataPaths[d] ? ` → ${run.dataPaths[d]}` : ""}`));
  }
  if (run.artifacts.length > 0) {
    lines.push(
      "artifacts:",
      ...run.artifacts.map((f) => `  ${f.path}  ${formatBytes(f.size)}  ${f.sha256.slice(0, 12)}`),
    );
  }
  if (run.code) {
    const c = run.code;
    lines.push(
      `code: ${c.commit.slice(0, 12)}${c.dirty ? " (+uncommitted patch)" : ""}${c.branch ? ` on ${c.branch}` : ""}${c.remote ? ` from ${c.remote}` : ""}`,
    );
  }
  const locks = (run.environment?.["lockFiles"] ?? {}) as Record<string, string>;
  if (Object.keys(locks).length > 0) lines.push(`lock files: ${Object.keys(locks).join(", ")}`);
  if (run.command) lines.push(`command: ${run.command}`);
  if (run.outputs.length > 0) lines.push("outputs:", ...run.outputs.map((o) => `  ${o}`));
  return lines;
}

function renderRunList(runs: RunSummary[]): string[] {
  if (runs.length === 0) return ["no runs"];
  return table(
    ["ID", "NAME", "EXPERIMENT", "STATUS", "STARTED", "METRICS"],
    runs.map((r) => [
      r.id,
      r.name,
      r.experiment,
      r.status,
      formatTime(r.startTime),
      Object.entries(r.metrics)
        .map(([k, v]) => `${k}=${formatMetric(v)}`)
        .join(" "),
    ]),
  );
}

interface StartOptions {
  experiment?: string;
  name?: string;
  data?: string[];
  param?: string[];
  params?: string;
  tag?: string[];
  command?: string;
}

interface LogOptions {
  metric?: string[];
  step?: string;
  param?: string[];
  tag?: string[];
}

function parseStep(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?\d{1,15}$/.test(text)) throw new CairnError("USAGE", `--step takes a whole number, not ${text}`);
  return Number(text);
}

export function registerRun(program: Command): void {
  const run = program
    .command("run")
    .description("track a training run: params, step metrics, tags, data, artifacts, code and environment")
    .addHelpText(
      "after",
      `
Examples:
  $ RUN=$(cairn run start --experiment sweep --data imdb@2.1.0 --param lr=0.01)
  $ cairn run log $RUN --metric loss=0.31 --metric acc=0.88 --step 100
  $ cairn run artifact $RUN model.onnx
  $ cairn run end $RUN
  $ cairn promote $RUN sentiment
`,
    );

  defineCommand(run, {
    name: "start",
    description:
      "start a run and print its id: records the data versions it reads (resolved now), params, tags, the git " +
      "commit and uncommitted patch of the working folder, runtime versions and lock files found here",
    examples: [
      "cairn run start",
      "cairn run start --experiment sweep --name lr-0.01 --data imdb@2.1.0 --param lr=0.01",
      "cairn run start --data imdb@production=data/imdb --command 'python train.py'",
      'cairn run start --json   # {"id": "…"}',
    ],
  })
    .option("--experiment <name>", 'the experiment it belongs to (default "default")')
    .option("--name <name>", "a name for people (default: the run id)")
    .option(
      "--data <ref[=path]>",
      "a data version it reads, e.g. imdb@2.1.0, and where it sits relative to the repository root, e.g. " +
        "imdb@2.1.0=corpora/imdb (default data/NAME; `cairn reproduce` puts it back there) (repeatable)",
      collect,
    )
    .option("--param <key=value>", "a hyperparameter (repeatable; written once)", collect)
    .option("--params <file>", "hyperparameters from a JSON or YAML file")
    .option("--tag <key=value>", "a label (repeatable)", collect)
    .option("--command <command>", "the command that runs the training, kept for `cairn reproduce`")
    .action(
      withContext(async (ctx, opts: StartOptions) => {
        const params = await readParams(opts.params, opts.param);
        const tags = readTags(opts.tag);
        const git = await captureGit([], ctx.cwd);
        const started = await withRuns(ctx, (runs) =>
          runs.start(
            {
              params,
              tags,
              ...(opts.experiment !== undefined ? { experiment: opts.experiment } : {}),
              ...(opts.name !== undefined ? { name: opts.name } : {}),
              ...(opts.data ? { data: opts.data } : {}),
              ...(opts.command !== undefined ? { command: opts.command } : {}),
            },
            git,
          ),
        );
        ctx.out.result({ id: started.id }, () => started.id);
      }),
    );

  defineCommand(run, {
    name: "log",
    description:
      "log metrics (at --step, default 0), params (written once: another value for a logged param fails) and tags to a run",
    examples: [
      "cairn run log $RUN --metric loss=0.31 --metric acc=0.88 --step 100",
      "cairn run log $RUN --param epochs=10 --tag stage=candidate",
      "cairn run log $RUN --metric loss=NaN --step 7",
    ],
  })
    .argument("<run>", "the run id")
    .option("--metric <key=value>", "a metric value; NaN, Infinity, -Infinity allowed (repeatable)", collect)
    .option("--step <n>", "the step of the metrics (default 0)")
    .option("--param <key=value>", "a hyperparameter (repeatable)", collect)
    .option("--tag <key=value>", "a label (repeatable)", collect)
    .action(
      withContext(async (ctx, id: string, opts: LogOptions) => {
        const step = parseStep(opts.step);
        const metrics = await readMetrics(undefined, opts.metric);
        const params = await readParams(undefined, opts.param);
        const tags = readTags(opts.tag);
        const points = Object.entries(metrics).map(([key, value]) => ({
          key,
          value,
          ...(step !== undefined ? { step } : {}),
        }));
        if (points.length + Object.keys(params).length + Object.keys(tags).length === 0) {
          throw new CairnError("USAGE", "give something to log: --metric, --param or --tag");
        }
        await withRuns(ctx, (runs) => runs.log(id, { metrics: points, params, tags }));
        ctx.out.result(
          { id, metrics: points.length, params: Object.keys(params).length, tags: Object.keys(tags).length },
          () => [
            `logged to ${id}: ${points.length} metric${points.length === 1 ? "" : "s"}, ${Object.keys(params).length} param(s), ${Object.keys(tags).length} tag(s)`,
          ],
        );
      }),
    );

  defineCommand(run, {
    name: "artifact",
    description: "store files or folders as the run's artifacts (deduplicated like pushed files; kept by gc)",
    examples: ["cairn run artifact $RUN model.onnx", "cairn run artifact $RUN ./checkpoints metrics.json"],
  })
    .argument("<run>", "the run id")
    .argument("<path...>", "files or folders (folders keep relative paths)")
    .action(
      withContext(async (ctx, id: string, paths: string[]) => {
        const local = await collectFiles(paths);
        const updated = await withRuns(ctx, (runs) => runs.logArtifacts(id, local));
        ctx.out.result(
          updated,
          () => `stored ${local.length} file${local.length === 1 ? "" : "s"} in run ${id}`,
        );
      }),
    );

  defineCommand(run, {
    name: "end",
    description: "end a run as finished (default), failed or killed",
    examples: ["cairn run end $RUN", "cairn run end $RUN --status failed"],
  })
    .argument("<run>", "the run id")
    .option("--status <status>", "finished, failed or killed", "finished")
    .action(
      withContext(async (ctx, id: string, opts: { status: string }) => {
        const status = checkUsage(() => checkRunStatus(opts.status));
        if (status === "running") throw new CairnError("USAGE", "--status takes finished, failed or killed");
        const ended = await withRuns(ctx, (runs) => runs.end(id, status));
        ctx.out.result(ended, () => `run ${id} ${ended.status}`);
      }),
    );

  defineCommand(run, {
    name: "show",
    description: "show a run: params, last metric values, tags, data, artifacts, code, environment, outputs",
    examples: ["cairn run show $RUN", "cairn run show $RUN --json"],
  })
    .argument("<run>", "the run id")
    .action(
      withContext(async (ctx, id: string) => {
        const got = await withRuns(ctx, (runs) => runs.get(id));
        ctx.out.result(got, () => renderRun(got));
      }),
    );

  defineCommand(run, {
    name: "list",
    description: "list runs, newest first",
    examples: ["cairn run list", "cairn run list --experiment sweep --status finished --limit 20"],
  })
    .option("--experiment <name>", "only this experiment's runs")
    .option("--status <status>", "only runs with this status")
    .option("--limit <n>", "at most this many", "100")
    .action(
      withContext(async (ctx, opts: { experiment?: string; status?: string; limit: string }) => {
        if (!/^\d{1,9}$/.test(opts.limit))
          throw new CairnError("USAGE", `--limit takes a whole number, not ${opts.limit}`);
        const status =
          opts.status === undefined ? undefined : checkUsage(() => checkRunStatus(opts.status as string));
        const list = await withRuns(ctx, (runs) =>
          runs.list({
            limit: Number(opts.limit),
            ...(opts.experiment !== undefined ? { experiment: opts.experiment } : {}),
            ...(status !== undefined ? { status } : {}),
          }),
        );
        ctx.out.result(list, () => renderRunList(list));
      }),
    );
}

/** A bad option value is a usage error (exit 2), not a failure of the store. */
function checkUsage<T extends RunStatus>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw new CairnError("USAGE", (error as Error).message);
  }
}
