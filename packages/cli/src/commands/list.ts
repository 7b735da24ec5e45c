/**
 * @module `cairn list`: the artifacts, or one artifact's versions.
 */
import type { Command } from "commander";
import { formatBytes, formatNumber, formatTime, table } from "../output.js";
import { defineCommand, withContext } from "../program.js";
import { withBackend } from "../registry-backend.js";

// How many metrics a version row shows; `cairn show` has them all.
const MAIN_METRICS = 3;

export function registerList(program: Command): void {
  defineCommand(program, {
    name: "list",
    description:
      "list artifacts, or the versions of NAME (version, seq, created, aliases, size, main metrics)",
    examples: ["cairn list", "cairn list classifier", "cairn list classifier --json"],
  })
    .argument("[name]", "an artifact")
    .action(
      withContext(async (ctx, name: string | undefined) => {
        await withBackend(ctx, async (registry) => {
          if (name === undefined) {
            const artifacts = await registry.listArtifacts();
            ctx.out.result(artifacts, () =>
              artifacts.length === 0
                ? "no artifacts yet: record one with `cairn push NAME PATH`"
                : table(
                    ["NAME", "TYPE", "VERSIONS", "LATEST", "UPDATED"],
                    artifacts.map((a) => [
                      a.name,
                      a.type,
                      String(a.versionCount),
                      a.latestVersion ?? "-",
                      formatTime(a.updatedAt),
                    ]),
                  ),
            );
            return;
          }
          const versions = await registry.listVersions(name);
          ctx.out.result(versions, () =>
            table(
              ["VERSION", "SEQ", "CREATED", "ALIASES", "SIZE", "METRICS"],
              versions.map((v) => [
                v.version,
                String(v.seq),
                formatTime(v.createdAt),
                v.aliases.join(",") || "-",
                formatBytes(v.size),
                Object.entries(v.metrics)
                  .slice(0, MAIN_METRICS)
                  .map(([k, m]) => `${k}=${formatNumber(m)}`)
                  .join(" ") || "-",
              ]),
            ),
          );
        });
      }),
    );
}
