/**
 * @module `cairn migrate`: copies the whole registry from the configured store (the embedded one, or
 * CAIRN_DATABASE_URL / CAIRN_BLOB_URL) to another backend — an embedded folder, PostgreSQL + S3, or a mix —
 * then verifies the copy. The copying and its crash-safety are storage's (migrateRegistry).
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { CairnError, isCairnError } from "@cairn/core";
import type { MigrateProgress, MigrateReport, StoreConfig } from "@cairn/storage";
import type { Command } from "commander";
import { formatBytes } from "../output.js";
import { defineCommand, withContext } from "../program.js";
import { localOnly } from "../registry-backend.js";

interface MigrateFlags {
  to?: string;
  toDatabase?: string;
  toBlobs?: string;
  dryRun?: boolean;
}

const usage = (message: string, hint: string) => new CairnError("USAGE", message, { hint });

const DESTINATION_HINT =
  "name the destination with --to DIR (an embedded store), or --to-database postgres://… --to-blobs s3://bucket/prefix";

/** The destination's configuration from the flags, checked before anything is opened (USAGE: exit 2). */
async function destinationConfig(flags: MigrateFlags, cwd: string): Promise<StoreConfig> {
  const { parseS3Location, S3_DESTINATION_VARIABLES } = await import("@cairn/storage");
  if (flags.to === undefined && flags.toDatabase === undefined && flags.toBlobs === undefined) {
    throw usage("cairn migrate needs a destination", DESTINATION_HINT);
  }
  const config: StoreConfig = {};
  if (flags.toDatabase !== undefined) {
    if (!/^postgres(ql)?:\/\/[^/]/.test(flags.toDatabase)) {
      throw usage(
        `--to-database must be a postgres:// URL, not ${JSON.stringify(flags.toDatabase.replace(/\/\/[^@/]*@/, "//…@"))}`,
        "use postgres://user:password@host:5432/database",
      );
    }
    config.databaseUrl = flags.toDatabase;
  }
  if (flags.toBlobs !== undefined) {
    try {
      parseS3Location(flags.toBlobs, {});
    } catch (error) {
      if (!isCairnError(error)) throw error;
      throw usage(
        `--to-blobs: ${error.message}`,
        "use s3://bucket/prefix (CAIRN_S3_ENDPOINT for MinIO and others)",
      );
    }
    // The destination's own endpoint, region and keys (CAIRN_TO_…), checked now so that nothing is written
    // before a bad one is found; errors name the variable.
    try {
      parseS3Location(flags.toBlobs, process.env, "migrate-destination");
    } catch (error) {
      if (!isCairnError(error)) throw error;
      throw usage(
        error.message,
        error.hint ??
          `fix or unset it; unset, the destination uses the source's S3 settings (${Object.values(S3_DESTINATION_VARIABLES).join(", ")})`,
      );
    }
    config.blobUrl = flags.toBlobs;
    config.s3Settings = "migrate-destination";
  }
  if (flags.to !== undefined) config.home = resolve(cwd, flags.to);
  else if (config.databaseUrl === undefined || config.blobUrl === undefined) {
    const missing = config.databaseUrl === undefined ? "--to-database" : "--to-blobs";
    throw usage(
      `the destination needs ${missing}, or --to DIR for the part kept in a folder`,
      DESTINATION_HINT,
    );
  }
  return config;
}

/**
 * A store's configuration in words, without passwords. The bucket's endpoint is named: the same bucket and
 * prefix at another endpoint (CAIRN_TO_S3_ENDPOINT) is another place.
 */
function describe(config: StoreConfig, home: string | null, s3Endpoint: string | undefined): string {
  const parts: string[] = [];
  if (config.databaseUrl !== undefined) {
    const url = new URL(config.databaseUrl);
    parts.push(`postgres://${url.host}${url.pathname}`);
  }
  if (config.blobUrl !== undefined) {
    const at = s3Endpoint === undefined ? "" : ` at ${new URL(s3Endpoint).origin}`;
    parts.push(`${config.blobUrl}${at}`);
  }
  if (parts.length < 2 && home !== null) parts.unshift(home);
  return parts.join(" + ");
}

/**
 * Says, on a failure to reach the destination's bucket, which variables configure it: the S3 driver's hints
 * name only the store's own (every S3 error message says "S3"; the database's do not).
 */
function destinationHint(error: unknown, target: StoreConfig): unknown {
  if (!isCairnError(error) || target.blobUrl === undefined || !/\bS3\b/.test(error.message)) return error;
  const own =
    "--to-blobs names the destination's bucket; CAIRN_TO_S3_ENDPOINT, CAIRN_TO_AWS_ACCESS_KEY_ID and the other CAIRN_TO_… variables, where set, override the source's settings for it";
  return new CairnError(error.code, error.message, {
    hint: `${error.hint ? `${error.hint}; ` : ""}${own}`,
    cause: error,
  });
}

/** Progress on stderr: each table as it is loaded, packs and verification at most once a second. */
function progressPrinter(note: (text: string) => void): (p: MigrateProgress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (p.step === "table") {
      note(`  ${p.table}: ${p.rows} rows`);
      return;
    }
    if (p.done < p.total && now - last < 1000) return;
    last = now;
    if (p.step === "packs") {
      note(
        `  packs: ${p.done}/${p.total} (${formatBytes(p.bytes)})${p.skipped > 0 ? `, ${p.skipped} already copied` : ""}`,
      );
    } else note(`  verifying: ${p.done}/${p.total} versions`);
  };
}

function summary(report: MigrateReport): string[] {
  const r = report.rows;
  const n = (table: string) => r[table] ?? 0;
  return [
    `  ${n("artifacts")} artifacts, ${n("versions")} versions, ${n("aliases")} aliases (${n("alias_events")} moves), ` +
      `${n("runs")} runs, ${n("api_tokens")} tokens, ${n("audit_events")} audit events`,
    `  ${report.packs.count} packs (${formatBytes(report.packs.bytes)})` +
      (report.dryRun ? "" : `: ${report.packs.copied} copied, ${report.packs.alreadyThere} already there`),
  ];
}

export function registerMigrate(program: Command): void {
  defineCommand(program, {
    name: "migrate",
    description:
      "copy the whole registry (versions, aliases with history, runs, lineage, tokens, audit log, packs) from " +
      "this store to another backend, then verify the copy; the destination must be empty",
    examples: [
      "cairn migrate --to-database postgres://cairn@db:5432/cairn --to-blobs s3://models/cairn --dry-run",
      "cairn migrate --to-database postgres://cairn@db:5432/cairn --to-blobs s3://models/cairn",
      "CAIRN_DATABASE_URL=postgres://cairn@db/cairn CAIRN_BLOB_URL=s3://models/cairn cairn migrate --to ./backup/.cairn",
      "cairn migrate --to /mnt/usb/registry --json",
      "CAIRN_TO_S3_ENDPOINT=https://<account>.r2.cloudflarestorage.com CAIRN_TO_AWS_REGION=auto CAIRN_TO_AWS_ACCESS_KEY_ID=… " +
        "CAIRN_TO_AWS_SECRET_ACCESS_KEY=… cairn migrate --to-database postgres://cairn@db:5432/cairn --to-blobs s3://models/cairn",
    ],
  })
    // Secrets go in variables, not flags: flags show in `ps` to every user of the machine.
    .addHelpText(
      "after",
      [
        "Environment, for a --to-blobs bucket on another S3 service or with other keys (each unset one falls back",
        "to the source's setting: CAIRN_S3_ENDPOINT, CAIRN_S3_FORCE_PATH_STYLE, AWS_REGION, the AWS credentials):",
        "  CAIRN_TO_S3_ENDPOINT            the destination's S3-compatible URL (path-style addressing by default)",
        "  CAIRN_TO_S3_FORCE_PATH_STYLE    true/false",
        "  CAIRN_TO_AWS_REGION             the destination bucket's region",
        "  CAIRN_TO_AWS_ACCESS_KEY_ID      the destination's key, with CAIRN_TO_AWS_SECRET_ACCESS_KEY",
        "  CAIRN_TO_AWS_SECRET_ACCESS_KEY",
        "  CAIRN_TO_AWS_SESSION_TOKEN      only with the two above",
        "",
      ].join("\n"),
    )
    .option(
      "--to <dir>",
      "an embedded store folder (SQLite and blobs), or the folder for the part no URL names",
    )
    .option("--to-database <url>", "PostgreSQL for the metadata: postgres://user:password@host:5432/database")
    .option(
      "--to-blobs <url>",
      "an S3-compatible bucket for the packs: s3://bucket/prefix (CAIRN_S3_ENDPOINT applies unless CAIRN_TO_S3_ENDPOINT is set: see below)",
    )
    .option("--dry-run", "count what would be copied and check the destination is empty; write nothing")
    .action(
      withContext(async (ctx, flags: MigrateFlags) => {
        localOnly(ctx, "migrate", "it copies the store's own database and blobs");
        const target = await destinationConfig(flags, ctx.cwd);
        const { migrateRegistry, openStore, parseS3Location } = await import("@cairn/storage");
        const endpointOf = (config: StoreConfig) =>
          config.blobUrl === undefined
            ? undefined
            : parseS3Location(config.blobUrl, process.env, config.s3Settings).endpoint;
        const report = await ctx.withStore(async (source) => {
          const sourceConfig: StoreConfig = {
            ...(process.env["CAIRN_DATABASE_URL"] ? { databaseUrl: process.env["CAIRN_DATABASE_URL"] } : {}),
            ...(process.env["CAIRN_BLOB_URL"] ? { blobUrl: process.env["CAIRN_BLOB_URL"] } : {}),
          };
          const from = describe(sourceConfig, source.home, endpointOf(sourceConfig));
          const to = describe(
            target,
            typeof target.home === "string" ? target.home : null,
            endpointOf(target),
          );
          if (from === to) throw usage(`the destination ${to} is this store itself`, DESTINATION_HINT);
          // A dry run into a folder that does not exist yet opens nothing (opening would create it).
          if (flags.dryRun && target.databaseUrl === undefined && !existsSync(target.home as string)) {
            return migrateRegistry(source, null, { from, to }, { dryRun: true });
          }
          const destination = await openStore(target).catch((error: unknown) => {
            throw destinationHint(error, target);
          });
          try {
            if (!flags.dryRun) ctx.out.note(`migrating ${from} → ${to}`);
            return await migrateRegistry(
              source,
              destination,
              { from, to },
              { dryRun: flags.dryRun === true, onProgress: progressPrinter((text) => ctx.out.note(text)) },
            );
          } finally {
            await destination.close();
          }
        });
        if (report.dryRun) {
          ctx.out.result(report, () => [
            `would copy ${report.from} → ${report.to} (empty)`,
            ...summary(report),
          ]);
          return;
        }
        const v = report.verified!;
        if (!v.ok) {
          const problems = [
            ...v.countMismatches.map(
              (m) => `${m.table}: ${m.source} rows in the source, ${m.destination} copied`,
            ),
            ...[...v.store.damaged, ...v.versions.damaged].map((d) => `${d.ref}: ${d.path}`),
            ...v.store.missingPacks.map((key) => `missing pack ${key}`),
          ];
          ctx.out.line(`copied ${report.from} → ${report.to}, but the copy FAILED verification:`);
          for (const problem of problems) ctx.out.line(`  ${problem}`);
          throw new CairnError(
            "INTEGRITY",
            `the copy in ${report.to} failed verification: ${problems.join("; ")}`,
            {
              hint: "do not use the copy; empty the destination and run cairn migrate again (cairn verify checks the source)",
            },
          );
        }
        ctx.out.result(report, () => [
          `migrated ${report.from} → ${report.to}`,
          ...summary(report),
          `verified: row counts of ${Object.keys(report.rows).length} tables match; ${v.store.checked.packs} packs ` +
            `(${v.store.checked.chunks} chunks) re-read; the files of ${v.versions.checked} versions match their sha256`,
        ]);
      }),
    );
}
