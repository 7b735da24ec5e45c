/**
 * @module `cairn diff`: what changed between two versions.
 */
import type { VersionDiff } from "@cairn/core";
import type { Command } from "commander";
import { formatNumber } from "../output.js";
import { defineCommand, withContext } from "../program.js";
import { withRuns } from "../runs-backend.js";
import { diffTargets, renderCurves } from "./run-diff.js";

function renderDiff(d: VersionDiff): string[] {
  const lines = [`${d.a} → ${d.b}`];
  const f = d.files;
  lines.push(
    `files: ${f.added.length} added, ${f.removed.length} removed, ${f.changed.length} changed, ${f.unchanged} unchanged`,
  );
  for (const p of f.added) lines.push(`  + ${p}`);
  for (const p of f.removed) lines.push(`  - ${p}`);
  for (const p of f.changed) lines.push(`  ~ ${p}`);
  const p = d.params;
  const paramLines = [
    ...Object.entries(p.added).map(([k, v]) => `  + ${k} = ${JSON.stringify(v)}`),
    ...Object.entries(p.removed).map(([k, v]) => `  - ${k} = ${JSON.stringify(v)}`),
    ...Object.entries(p.changed).map(
      ([k, [a, b]]) => `  ~ ${k}: ${JSON.stringify(a)} → ${JSON.stringify(b)}`,
    ),
  ];
  lines.push(paramLines.length > 0 ? "params:" : "params: unchanged", ...paramLines);
  const metrics = Object.entries(d.metrics);
  lines.push(metrics.length > 0 ? "metrics:" : "metrics: unchanged");
  for (const [k, m] of metrics) {
    const show = (v: number | null) => (v === null ? "-" : formatNumber(v));
    const delta = m.delta === null ? "" : ` (${m.delta >= 0 ? "+" : ""}${formatNumber(m.delta)})`;
    lines.push(`  ${k}: ${show(m.a)} → ${show(m.b)}${delta}`);
  }
  if (d.data.added.length + d.data.removed.length > 0) {
    lines.push("data:", ...d.data.added.map((r) => `  + ${r}`), ...d.data.removed.map((r) => `  - ${r}`));
  } else lines.push("data: unchanged");
  if (d.code.changed) {
    const show = (c: VersionDiff["code"]["a"]) =>
      c ? `${c.commit.slice(0, 12)}${c.dirty ? "+dirty" : ""}` : "none";
    lines.push(`code: ${show(d.code.a)} → ${show(d.code.b)}`);
  } else lines.push("code: unchanged");
  return lines;
}

export function registerDiff(program: Command): void {
  defineCommand(program, {
    name: "diff",
    description:
      "compare two versions or runs: files, params, metric deltas, data and code; for runs (and versions made by runs) also their metric curves step by step",
    examples: [
      "cairn diff classifier@1.0.0 classifier@1.1.0",
      "cairn diff classifier@production classifier@latest --json",
      "cairn diff $RUN_A $RUN_B",
    ],
  })
    .argument("<a>", "the older ref or run id")
    .argument("<b>", "the newer ref or run id")
    .action(
      withContext(async (ctx, a: string, b: string) => {
        const { diff, curves } = await withRuns(ctx, (runs) => diffTargets(runs, a, b));
        const hasCurves = Object.keys(curves).length > 0;
        ctx.out.result(hasCurves ? { ...diff, curves } : diff, () => [
          ...renderDiff(diff),
          ...renderCurves(curves),
        ]);
      }),
    );
}
