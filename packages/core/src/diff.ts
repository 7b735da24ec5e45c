/**
 * @module What changed between two versions: files, params, metrics, data and code. Pure, so the CLI, the API
 * and release-note generation all show the same answer.
 */
import type { CodeInfo, FileEntry, Json, JsonObject, Version } from "./types.js";

export interface MetricDelta {
  a: number | null;
  b: number | null;
  /** b − a when both exist, else null. */
  delta: number | null;
}

export interface CodeSummary {
  commit: string;
  branch: string | null;
  remote: string | null;
  dirty: boolean;
}

export interface VersionDiff {
  a: string;
  b: string;
  files: { added: string[]; removed: string[]; changed: string[]; unchanged: number };
  params: {
    added: Record<string, Json>;
    removed: Record<string, Json>;
    changed: Record<string, [Json, Json]>;
  };
  metrics: Record<string, MetricDelta>;
  data: { added: string[]; removed: string[] };
  code: { a: CodeSummary | null; b: CodeSummary | null; changed: boolean };
}

/** Flattens nested params to dotted keys (`optimizer.lr`) so a change deep inside shows as one line. */
export function flattenParams(
  params: JsonObject,
  prefix = "",
  into: Record<string, Json> = {},
): Record<string, Json> {
  for (const [key, value] of Object.entries(params)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (
      value !== null &&
      typeof value === "object" &&
      !Array.isArray(value) &&
      Object.keys(value).length > 0
    ) {
      flattenParams(value, path, into);
    } else {
      into[path] = value;
    }
  }
  return into;
}

const sameJson = (x: Json, y: Json): boolean => JSON.stringify(x) === JSON.stringify(y);
// Object.is treats NaN as equal to NaN, which is what "unchanged" means for a metric.
const sameNumber = (x: number, y: number): boolean => Object.is(x, y) || x === y;

function summariseCode(code: CodeInfo | null): CodeSummary | null {
  return code ? { commit: code.commit, branch: code.branch, remote: code.remote, dirty: code.dirty } : null;
}

function diffFiles(a: FileEntry[], b: FileEntry[]): VersionDiff["files"] {
  const before = new Map(a.map((f) => [f.path, f]));
  const after = new Map(b.map((f) => [f.path, f]));
  const added: string[] = [];
  const changed: string[] = [];
  let unchanged = 0;
  for (const [path, file] of after) {
    const old = before.get(path);
    if (!old) added.push(path);
    else if (old.sha256 !== file.sha256 || old.mode !== file.mode) changed.push(path);
    else unchanged++;
  }
  const removed = [...before.keys()].filter((path) => !after.has(path));
  return { added: added.sort(), removed: removed.sort(), changed: changed.sort(), unchanged };
}

export function diffVersions(a: Version, b: Version): VersionDiff {
  const pa = flattenParams(a.params);
  const pb = flattenParams(b.params);
  const params: VersionDiff["params"] = { added: {}, removed: {}, changed: {} };
  for (const [key, value] of Object.entries(pb)) {
    if (!(key in pa)) params.added[key] = value;
    else if (!sameJson(pa[key] as Json, value)) params.changed[key] = [pa[key] as Json, value];
  }
  for (const [key, value] of Object.entries(pa)) if (!(key in pb)) params.removed[key] = value;

  const metrics: Record<string, MetricDelta> = {};
  for (const key of [...new Set([...Object.keys(a.metrics), ...Object.keys(b.metrics)])].sort()) {
    const ma = a.metrics[key] ?? null;
    const mb = b.metrics[key] ?? null;
    if (ma !== null && mb !== null && sameNumber(ma, mb)) continue;
    metrics[key] = { a: ma, b: mb, delta: ma !== null && mb !== null ? mb - ma : null };
  }

  const ca = summariseCode(a.code);
  const cb = summariseCode(b.code);
  return {
    a: `${a.artifact}@${a.version}`,
    b: `${b.artifact}@${b.version}`,
    files: diffFiles(a.files, b.files),
    params,
    metrics,
    data: {
      added: b.data.filter((ref) => !a.data.includes(ref)),
      removed: a.data.filter((ref) => !b.data.includes(ref)),
    },
    code: {
      a: ca,
      b: cb,
      changed:
        JSON.stringify(ca) !== JSON.stringify(cb) || (a.code?.patch ?? null) !== (b.code?.patch ?? null),
    },
  };
}
