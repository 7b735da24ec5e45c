/**
 * @module What `cairn diff` adds for runs: two runs (or a run and a version, or two versions made by runs)
 * compared like versions, plus their metric curves side by side, step by step.
 */
import {
  alignCurves,
  type CurveStep,
  diffRuns,
  invalid,
  type MetricPoint,
  type RunView,
  runFromView,
  type VersionDiff,
  type VersionView,
} from "@cairn/core";
import { formatNumber, table } from "../output.js";
import type { RunsBackend } from "../runs-backend.js";
import { targetRun } from "./metrics.js";

// A curve longer than this is cut: a diff is for reading, not for a million rows.
const MAX_CURVE_POINTS = 200_000;
const SHOWN_STEPS = 20;

export interface CurvesDiff {
  diff: VersionDiff;
  /** Per metric both runs logged: the two curves aligned by step. */
  curves: Record<string, CurveStep[]>;
}

async function curve(runs: RunsBackend, id: string, key: string): Promise<MetricPoint[]> {
  const points: MetricPoint[] = [];
  let cursor: string | undefined;
  do {
    const page = await runs.history(id, key, { limit: 50_000, ...(cursor !== undefined ? { cursor } : {}) });
    points.push(...page.points);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined && points.length < MAX_CURVE_POINTS);
  return points;
}

const label = (v: VersionView) => `${v.name}@${v.version}`;

/** Compares two targets (run ids or refs); curves only where both sides have a run. */
export async function diffTargets(runs: RunsBackend, a: string, b: string): Promise<CurvesDiff> {
  const sa = await targetRun(runs, a);
  const sb = await targetRun(runs, b);
  let diff: VersionDiff;
  if (sa.version && sb.version) diff = await runs.diffVersions(label(sa.version), label(sb.version));
  else if (sa.run && sb.run) diff = diffRuns(runFromView(sa.run), runFromView(sb.run));
  else {
    const lone = sa.version ?? sb.version;
    throw invalid(`cannot compare a run with ${lone ? label(lone) : "that"}: no run made that version`, {
      hint: "compare two runs, or two versions",
    });
  }
  const curves: Record<string, CurveStep[]> = {};
  if (sa.run && sb.run) {
    const ra: RunView = sa.run;
    const rb: RunView = sb.run;
    for (const key of Object.keys(ra.metrics)
      .filter((k) => k in rb.metrics)
      .sort()) {
      curves[key] = alignCurves(await curve(runs, ra.id, key), await curve(runs, rb.id, key));
    }
  }
  return { diff, curves };
}

/** Each curve as a table of at most SHOWN_STEPS steps, evenly spread, first and last included. */
export function renderCurves(curves: Record<string, CurveStep[]>): string[] {
  const lines: string[] = [];
  const show = (v: number | null) => (v === null ? "-" : formatNumber(v));
  for (const [key, steps] of Object.entries(curves)) {
    if (steps.length <= 1) continue;
    const every = Math.max(1, Math.ceil(steps.length / SHOWN_STEPS));
    const shown = steps.filter((_s, i) => i % every === 0 || i === steps.length - 1);
    lines.push(
      `curve ${key}${shown.length < steps.length ? ` (${shown.length} of ${steps.length} steps)` : ""}:`,
    );
    lines.push(
      ...table(
        ["STEP", "A", "B", "B-A"],
        shown.map((s) => [String(s.step), show(s.a), show(s.b), show(s.delta)]),
      ).map((l) => `  ${l}`),
    );
  }
  return lines;
}
