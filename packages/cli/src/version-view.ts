/**
 * @module How a version looks to a user: the text `show` prints (its JSON shape, `viewVersion`, is core's).
 */
import type { VersionView } from "@cairn/core";
import { formatBytes, formatNumber, formatTime } from "./output.js";

// The JSON shape lives in core, so the server answers with exactly what `show --json` prints.
export { type VersionView, viewVersion } from "@cairn/core";

export function renderVersion(v: VersionView): string[] {
  const lines = [
    `${v.name}@${v.version}  (#${v.seq}, ${v.type})`,
    `created   ${formatTime(v.createdAt)} by ${v.createdBy}`,
    `size      ${formatBytes(v.size)} in ${v.files.length} file${v.files.length === 1 ? "" : "s"}`,
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
  if (v.base) lines.push(`base      ${v.base}`);
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
