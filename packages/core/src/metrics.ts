/**
 * @module Metric points and their one JSON encoding: JSON has no NaN or ±Infinity, so on the wire (the HTTP API,
 * `--json`) they are the strings "NaN", "Infinity" and "-Infinity", and every other value is a plain number.
 * Also the checks every logged point goes through, and the step-by-step alignment `cairn diff` shows.
 */
import { invalid } from "./errors.js";
import type { Json, MetricPoint } from "./types.js";

/** A metric value as JSON carries it. */
export type JsonMetric = number | "NaN" | "Infinity" | "-Infinity";

/** Points one batch may carry: a few megabytes of JSON at most, so one request stays one quick transaction. */
export const MAX_BATCH_POINTS = 10_000;

const METRIC_KEY = /^[A-Za-z0-9_.:/-]{1,250}$/;

export function metricToJson(value: number): JsonMetric {
  if (Number.isFinite(value)) return value;
  return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
}

export function metricFromJson(value: JsonMetric): number {
  if (typeof value === "number") return value;
  if (value === "NaN") return Number.NaN;
  if (value === "Infinity") return Number.POSITIVE_INFINITY;
  if (value === "-Infinity") return Number.NEGATIVE_INFINITY;
  throw invalid(`invalid metric value ${JSON.stringify(value)}: a number, "NaN", "Infinity" or "-Infinity"`);
}

/** A metric for people: NaN and ±Infinity by name, other numbers as JavaScript prints them. */
export const formatMetric = (value: number): string => String(value);

/** A point as a client gives it: the step defaults to 0 and the time to now. */
export interface MetricPointInput {
  key: string;
  value: number;
  step?: number;
  timestamp?: number;
}

export function checkMetricKey(key: string): string {
  if (typeof key !== "string" || !METRIC_KEY.test(key)) {
    throw invalid(`invalid metric name ${JSON.stringify(key)}`, {
      hint: "use letters, digits and _ . : / - (at most 250 characters)",
    });
  }
  return key;
}

/** Checks a batch of points and fills in their defaults. */
export function checkMetricPoints(points: readonly MetricPointInput[], now: number): MetricPoint[] {
  if (points.length > MAX_BATCH_POINTS) {
    throw invalid(`a batch holds at most ${MAX_BATCH_POINTS} metric points, not ${points.length}`, {
      hint: "send them in several batches",
    });
  }
  return points.map((p) => {
    const key = checkMetricKey(p.key);
    if (typeof p.value !== "number")
      throw invalid(`metric ${key} must be a number, got ${JSON.stringify(p.value)}`);
    const step = p.step ?? 0;
    if (!Number.isSafeInteger(step)) throw invalid(`metric ${key}: step must be a whole number, not ${step}`);
    const timestamp = p.timestamp ?? now;
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
      throw invalid(`metric ${key}: timestamp must be milliseconds since 1970, not ${timestamp}`);
    }
    return { key, value: p.value, step, timestamp };
  });
}

/**
 * JSON text with object keys sorted, so two equal values always give the same text: a param logged again is
 * compared by this text (write-once: the same value is fine, another one is CONFLICT).
 */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k] as Json)}`).join(",")}}`;
}

/** One step of two curves side by side; null where a curve has no point at that step. */
export interface CurveStep {
  step: number;
  a: number | null;
  b: number | null;
  /** b − a where both exist. */
  delta: number | null;
}

/** The last value at each step of a curve (a step logged twice counts with its later value). */
function lastPerStep(points: readonly MetricPoint[]): Map<number, number> {
  const byStep = new Map<number, number>();
  for (const p of points) byStep.set(p.step, p.value);
  return byStep;
}

/** Two metric curves aligned by step, for `cairn diff` of runs. */
export function alignCurves(a: readonly MetricPoint[], b: readonly MetricPoint[]): CurveStep[] {
  const left = lastPerStep(a);
  const right = lastPerStep(b);
  const steps = [...new Set([...left.keys(), ...right.keys()])].sort((x, y) => x - y);
  return steps.map((step) => {
    const va = left.get(step) ?? null;
    const vb = right.get(step) ?? null;
    return { step, a: va, b: vb, delta: va === null || vb === null ? null : vb - va };
  });
}

/**
 * A metric history cursor, the same on every driver: `STEP.SEQ`, the step and logging order of the last point
 * served, so the next page starts after it.
 */
export function encodeHistoryCursor(step: number, seq: number): string {
  return `${step}.${seq}`;
}

export function decodeHistoryCursor(cursor: string): [step: number, seq: number] {
  const match = /^(-?\d{1,16})\.(\d{1,16})$/.exec(cursor);
  const step = Number(match?.[1]);
  const seq = Number(match?.[2]);
  if (!match || !Number.isSafeInteger(step) || !Number.isSafeInteger(seq)) {
    throw invalid(`invalid history cursor ${JSON.stringify(cursor)}: pass back a nextCursor`);
  }
  return [step, seq];
}

/**
 * The last point of each metric in a batch — the highest step, and on a tie the one logged later — which
 * becomes the metric's final value unless the run already holds a higher step.
 */
export function lastPoints(points: readonly MetricPoint[]): MetricPoint[] {
  const last = new Map<string, MetricPoint>();
  for (const p of points) {
    const held = last.get(p.key);
    if (held === undefined || p.step >= held.step) last.set(p.key, p);
  }
  return [...last.values()];
}

/**
 * One metric's points as parallel arrays: the compact wire form of a big batch (a third of the JSON of one
 * object per point, so both ends spend less time on it). Values are in the JSON encoding.
 */
export interface MetricSeries {
  key: string;
  steps: number[];
  values: JsonMetric[];
  /** Left out: every point is stamped when it is received. */
  timestamps?: number[];
}

/** Points grouped by metric, keeping each metric's points in the order they were logged. */
export function seriesFromPoints(points: readonly MetricPointInput[]): MetricSeries[] {
  const byKey = new Map<string, MetricSeries>();
  const stamped = points.some((p) => p.timestamp !== undefined);
  const now = Date.now();
  for (const p of points) {
    let series = byKey.get(p.key);
    if (series === undefined) {
      series = { key: p.key, steps: [], values: [], ...(stamped ? { timestamps: [] } : {}) };
      byKey.set(p.key, series);
    }
    series.steps.push(p.step ?? 0);
    series.values.push(metricToJson(p.value));
    series.timestamps?.push(p.timestamp ?? now);
  }
  return [...byKey.values()];
}

/** The points a list of series carries; arrays of different lengths are INVALID. */
export function pointsFromSeries(series: readonly MetricSeries[]): MetricPointInput[] {
  const points: MetricPointInput[] = [];
  for (const s of series) {
    const n = s.steps.length;
    if (s.values.length !== n || (s.timestamps !== undefined && s.timestamps.length !== n)) {
      throw invalid(`metric ${s.key}: steps, values and timestamps must be arrays of the same length`);
    }
    for (let i = 0; i < n; i++) {
      const timestamp = s.timestamps?.[i];
      points.push({
        key: s.key,
        step: s.steps[i] as number,
        value: metricFromJson(s.values[i] as JsonMetric),
        ...(timestamp !== undefined ? { timestamp } : {}),
      });
    }
    if (points.length > MAX_BATCH_POINTS) {
      throw invalid(`a batch holds at most ${MAX_BATCH_POINTS} metric points`, {
        hint: "send them in several batches",
      });
    }
  }
  return points;
}
