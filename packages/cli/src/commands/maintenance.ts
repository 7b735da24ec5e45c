/**
 * @module Store maintenance: `cairn verify`, `cairn gc`, `cairn stats`, `cairn fsck`.
 */
import { CairnError, exactRef } from "@cairn/core";
import type { Command } from "commander";
import { formatBytes, table } from "../output.js";
import { defineCommand, withContext } from "../program.js";
import { localOnly, withBackend } from "../registry-backend.js";

const ratio = (logical: number, stored: number): string =>
  stored === 0 ? "-" : `${(logical / stored).toFixed(2)}x`;

export function registerVerify(program: Command): void {
  defineCommand(program, {
    name: "verify",
    description:
      "re-read stored data and check every chunk's hash: one version's files (REF), or the whole store; " +
      "names every damaged file and exits 1 if any",
    examples: ["cairn verify", "cairn verify classifier@production", "cairn verify --json"],
  })
    .argument("[ref]", "only this version")
    .action(
      withContext(async (ctx, ref: string | undefined) => {
        const result = await withBackend(ctx, (registry) => registry.verify(ref));
        if (result.ok) {
          ctx.out.result(
            result,
            () =>
              `ok: ${result.scope === "store" ? "the store" : result.scope} verified (${formatBytes(result.checked.bytes)} checked)`,
          );
          return;
        }
        const names = result.damaged.map((d) => `${d.ref}: ${d.path}`);
        // With --json the error below is the one document printed; it names the files itself.
        ctx.out.line(`DAMAGED: ${names.length} file(s)`);
        for (const name of names) ctx.out.line(`  ${name}`);
        throw new CairnError(
          "INTEGRITY",
          names.length > 0
            ? `${names.length} damaged file(s): ${names.join("; ")}`
            : `the store has damaged data (${result.missingPacks.length} missing pack(s)) that no version uses`,
          { hint: "pull those versions from a backup copy, or push the files again" },
        );
      }),
    );
}

export function registerGc(program: Command): void {
  defineCommand(program, {
    name: "gc",
    description:
      "remove stored chunks that no version uses (mark and sweep; safe while pushes run) and compact sparse packs",
    examples: ["cairn gc --dry-run", "cairn gc", "cairn gc --json"],
  })
    .option("--dry-run", "only report what would be reclaimed")
    .action(
      withContext(async (ctx, opts: { dryRun?: boolean }) => {
        const report = await withBackend(ctx, (registry) => registry.gc({ dryRun: opts.dryRun === true }));
        ctx.out.result(report, () => [
          `${report.dryRun ? "would reclaim" : "reclaimed"} ${formatBytes(report.bytesReclaimed)}` +
            ` (store ${formatBytes(report.packBytesBefore)} → ${formatBytes(report.packBytesAfter)})`,
          `  ${report.chunksRemoved} chunks and ${report.contentsRemoved} files unreferenced; ` +
            `${report.packsRemoved} packs removed, ${report.packsRewritten} rewritten, ${report.orphanPacksRemoved} orphan packs` +
            (report.liveSessions > 0 ? `; ${report.liveSessions} push(es) in flight kept their chunks` : ""),
        ]);
      }),
    );
}

export function registerStats(program: Command): void {
  defineCommand(program, {
    name: "stats",
    description:
      "logical bytes (what was pushed), stored bytes (unique chunks) and the dedup ratio, per artifact and overall",
    examples: ["cairn stats", "cairn stats classifier --json"],
  })
    .argument("[name]", "only this artifact")
    .action(
      withContext(async (ctx, name: string | undefined) => {
        const result = await withBackend(ctx, (registry) => registry.stats(name));
        ctx.out.result(result, () => {
          const rows = result.artifacts.map((r) => [
            r.artifact ?? "",
            String(r.versions),
            formatBytes(r.logicalBytes),
            formatBytes(r.storedBytes),
            ratio(r.logicalBytes, r.storedBytes),
          ]);
          const o = result.overall;
          if (o)
            rows.push([
              "(all)",
              String(o.versions),
              formatBytes(o.logicalBytes),
              formatBytes(o.storedBytes),
              ratio(o.logicalBytes, o.storedBytes),
            ]);
          const lines = table(["ARTIFACT", "VERSIONS", "LOGICAL", "STORED", "DEDUP"], rows);
          if (o)
            lines.push(
              "",
              `packs on disk: ${formatBytes(o.packBytes)} (run \`cairn gc\` to drop unreferenced chunks)`,
            );
          return lines;
        });
      }),
    );
}

export function registerFsck(program: Command): void {
  defineCommand(program, {
    name: "fsck",
    description: "check the store; with --rebuild-index, rebuild the chunk index from the packs' own tables",
    examples: ["cairn fsck --rebuild-index", "cairn fsck --rebuild-index --json"],
  })
    .option("--rebuild-index", "forget the chunk index and rebuild it from the packs")
    .action(
      withContext(async (ctx, opts: { rebuildIndex?: boolean }) => {
        localOnly(ctx, "fsck", "it checks and rebuilds the store's own files");
        const { rebuildChunkIndex, verifyStore } = await import("@cairn/storage");
        const result = await ctx.withStore(async (store) => {
          const rebuilt = opts.rebuildIndex ? await rebuildChunkIndex(store.content) : null;
          const report = await verifyStore(store.content);
          return {
            rebuilt,
            ok: report.damagedChunks === 0 && report.incompleteFiles.length === 0,
            packs: report.packs,
            chunks: report.chunks,
            damagedFiles: report.damagedFiles,
            incompleteFiles: report.incompleteFiles,
          };
        });
        const rebuilt = result.rebuilt
          ? [
              `rebuilt the chunk index: ${result.rebuilt.packs} packs, ${result.rebuilt.chunks} chunks` +
                (result.rebuilt.skipped.length
                  ? ` (${result.rebuilt.skipped.length} unreadable packs skipped)`
                  : ""),
            ]
          : [];
        if (result.ok) {
          ctx.out.result(result, () => [
            ...rebuilt,
            `ok: ${result.packs} packs, ${result.chunks} chunks checked`,
          ]);
          return;
        }
        const names = [...result.damagedFiles, ...result.incompleteFiles].map(
          (f) => `${exactRef(f.artifact, f.version)}: ${f.path}`,
        );
        // With --json the error below is the one document printed; it names the files itself.
        for (const line of rebuilt) ctx.out.line(line);
        ctx.out.line(
          `problems: ${result.damagedFiles.length} damaged and ${result.incompleteFiles.length} incomplete files`,
        );
        for (const name of names) ctx.out.line(`  ${name}`);
        throw new CairnError(
          "INTEGRITY",
          `the store has damaged or incomplete files${names.length > 0 ? `: ${names.join("; ")}` : ""}`,
        );
      }),
    );
}
