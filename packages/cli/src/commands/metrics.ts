/**
 * @module `cairn metrics`: a run's (or a version's run's) metrics — every metric's last value, or one metric's
 * whole history, streamed a page at a time so a million points never sit in memory at once. NaN and
 * ±Infinity print by name, in text, JSON and CSV alike.
 */
import { CairnError, formatMetric, metricToJson, type RunView, type VersionView } from "@cairn/core";
import type { Command } from "commander";
import { toJson } from "../output.js";
import { defineCommand, withContext } from "../program.js";
import { type RunsBackend, withRuns } from "../runs-backend.js";

const RUN_ID = /^[0-9a-z]{16}$/;
const PAGE = 50_000;

/** Whether a command-line target names a run (a ref always has `@` or `#`). */
export const isRunId = (target: string): boolean => RUN_ID.test(target);

/** The run a target names: a run id, or a version made by a run. */
export async function targetRun(
  runs: RunsBackend,
  target: string,
): Promise<{ run: RunView | null; version: VersionView | null }> {
  if (isRunId(target)) return { run: await runs.get(target), version: null };
  const version = await runs.resolve(target);
  return { run: version.run ? await runs.get(version.run) : null, version };
}

const write = (text: string): Promise<void> =>
  new Promise((resolve) => {
    if (process.stdout.write(text)) resolve();
    else process.stdout.once("drain", () => resolve());
  });

export function registerMetrics(program: Command): void {
  defineCommand(program, {
    name: "metrics",
    description:
      "show the metrics of a run or of a version (its run's): every metric's last value, or one metric's history by step",
    examples: [
      "cairn metrics $RUN",
      "cairn metrics $RUN loss --csv > loss.csv",
      "cairn metrics classifier@production accuracy --json",
    ],
  })
    .argument("<target>", "a run id, or a ref such as classifier@1.2.0")
    .argument("[key]", "one metric: print its history")
    .option("--csv", "print CSV (step,value,timestamp for one metric; key,value otherwise)")
    .action(
      withContext(async (ctx, target: string, key: string | undefined, opts: { csv?: boolean }) => {
        if (opts.csv && ctx.out.json) throw new CairnError("USAGE", "give --json or --csv, not both");
        await withRuns(ctx, async (runs) => {
          const { run, version } = await targetRun(runs, target);
          const source = run ? run.id : `${version?.name}@${version?.version}`;
          const last = run?.metrics ?? version?.metrics ?? {};
          if (key === undefined) {
            if (opts.csv) {
              await write(
                `key,value\n${Object.entries(last)
                  .map(([k, v]) => `${k},${formatMetric(v)}\n`)
                  .join("")}`,
              );
              return;
            }
            ctx.out.result({ source, run: run?.id ?? null, metrics: last }, () =>
              Object.keys(last).length === 0
                ? [`${source}: no metrics`]
                : [`${source}:`, ...Object.entries(last).map(([k, v]) => `  ${k} = ${formatMetric(v)}`)],
            );
            return;
          }
          if (!run) {
            // A version without a run has final values only: its history is that one value.
            const value = last[key];
            if (value === undefined) throw new CairnError("NOT_FOUND", `${source} has no metric ${key}`);
            if (opts.csv) await write(`step,value,timestamp\n,${formatMetric(value)},\n`);
            else
              ctx.out.result(
                { source, run: null, key, points: [{ value }] },
                () => `${key} = ${formatMetric(value)}`,
              );
            return;
          }
          if (!(key in run.metrics)) throw new CairnError("NOT_FOUND", `run ${run.id} has no metric ${key}`);
          await streamHistory(runs, run.id, key, ctx.out.json ? "json" : opts.csv ? "csv" : "text", source);
        });
      }),
    );
}

async function streamHistory(
  runs: RunsBackend,
  id: string,
  key: string,
  format: "json" | "csv" | "text",
  source: string,
): Promise<void> {
  if (format === "json") await write(`${toJson({ source, run: id, key }).slice(0, -2)},\n  "points": [`);
  else if (format === "csv") await write("step,value,timestamp\n");
  else await write(`${key} (${source})\nSTEP  VALUE  TIME\n`);
  let cursor: string | undefined;
  let first = true;
  do {
    const page = await runs.history(id, key, { limit: PAGE, ...(cursor !== undefined ? { cursor } : {}) });
    let text = "";
    for (const p of page.points) {
      if (format === "json") {
        text += `${first ? "" : ","}\n    ${JSON.stringify({ step: p.step, value: metricToJson(p.value), timestamp: p.timestamp })}`;
      } else if (format === "csv") text += `${p.step},${formatMetric(p.value)},${p.timestamp}\n`;
      else text += `${p.step}  ${formatMetric(p.value)}  ${new Date(p.timestamp).toISOString()}\n`;
      first = false;
    }
    await write(text);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  if (format === "json") await write(`${first ? "" : "\n  "}]\n}\n`);
}
