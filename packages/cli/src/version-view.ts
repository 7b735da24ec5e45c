/**
 * @module How a version looks to a user: the JSON shape of `show`/`push --json`, and the text `show` prints.
 */
import type { Version } from "@cairn/core";
import { formatBytes, formatNumber, formatTime } from "./output.js";

export interface VersionView {
  name: string;
  version: string;
  seq: number;
  type: string;
  createdAt: string;
  createdBy: string;
  size: number;
  files: Array<{ path: string; size: number; sha256: string; mode: string }>;
  params: Version["params"];
  metrics: Version["metrics"];
  tags: Version["tags"];
  aliases: string[];
  notes: string;
  data: string[];
  code: Version["code"];
  environment: Version["environment"];
  run: string | null;
}

export function viewVersion(v: Version): VersionView {
  return {
    name: v.artifact,
    version: v.version,
    seq: v.seq,
    type: v.type,
    createdAt: v.createdAt,
    createdBy: v.createdBy,
    size: v.files.reduce((sum, f) => sum + f.size, 0),
    files: v.files.map((f) => ({
      path: f.path,
      size: f.size,
      sha256: f.sha256,
      mode: f.mode.toString(8).padStart(4, "0"),
    })),
    params: v.params,
    metrics: v.metrics,
    tags: v.tags,
    aliases: v.aliases,
    notes: v.notes,
    data: v.data,
    code: v.code,
    environment: v.environment,
    run: v.run,
  };
}

export function renderVersion(v: Version): string[] {
  const view = viewVersion(v);
  const lines = [
    `${v.artifact}@${v.version}  (#${v.seq}, ${v.type})`,
    `created   ${formatTime(v.createdAt)} by ${v.createdBy}`,
    `size      ${formatBytes(view.size)} in ${v.files.length} file${v.files.length === 1 ? "" : "s"}`,
  ];
  if (v.aliases.length > 0) lines.push(`aliases   ${v.aliases.join(", ")}`);
  if (v.code) {
    const c = v.code;
    lines.push(
      `code      ${c.commit.slice(0, 12)}${c.dirty ? " (dirty: uncommitted patch stored)" : ""}` +
        `${c.branch ? ` on ${c.branch}` : " (detached)"}${c.remote ? ` from ${c.remote}` : ""}`,
    );
  }
  if (v.data.length > 0) lines.push(`data      ${v.data.join(", ")}`);
  if (v.run) lines.push(`run       ${v.run}`);
  const params = Object.entries(v.params);
  if (params.length > 0) {
    lines.push("params");
    for (const [k, value] of params) lines.push(`  ${k} = ${JSON.stringify(value)}`);
  }
  const metrics = Object.entries(v.metrics);
  if (metrics.length > 0) {
    lines.push("metrics");
    for (const [k, value] of metrics) lines.push(`  ${k} = ${formatNumber(value)}`);
  }
  const tags = Object.entries(v.tags);
  if (tags.length > 0) {
    lines.push("tags");
    for (const [k, value] of tags) lines.push(`  ${k} = ${value}`);
  }
  lines.push("files");
  for (const f of v.files)
    lines.push(`  ${f.path}  ${formatBytes(f.size)}  sha256:${f.sha256.slice(0, 16)}…`);
  if (v.notes) lines.push("notes", ...v.notes.split("\n").map((l) => `  ${l}`));
  return lines;
}
