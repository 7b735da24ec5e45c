/**
 * @module `cairn init`: creates the store the environment names — the embedded store (.cairn/) in the current
 * folder by default; with CAIRN_DATABASE_URL and/or CAIRN_BLOB_URL, the schema in PostgreSQL and the place in
 * the S3 bucket (and .cairn/ here only for a part no URL names).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { defineCommand, withContext } from "../program.js";
import { localOnly } from "../registry-backend.js";
import { STORE_DIR } from "../store-location.js";

/** Where a URL points, without its user or password. */
function redact(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

export function registerInit(program: Command): void {
  defineCommand(program, {
    name: "init",
    description:
      `create a store: the embedded one (${STORE_DIR}/: SQLite metadata and a blob folder) in the current folder, ` +
      "or, with CAIRN_DATABASE_URL / CAIRN_BLOB_URL set, the schema in PostgreSQL and the place in the bucket",
    examples: [
      "cairn init",
      "CAIRN_HOME=~/registry cairn list   # or keep the store anywhere",
      "CAIRN_DATABASE_URL=postgres://cairn@db/cairn CAIRN_BLOB_URL=s3://models/cairn cairn init",
    ],
  }).action(
    withContext(async (ctx) => {
      localOnly(ctx, "init", "it creates a store in this folder");
      const home = join(ctx.cwd, STORE_DIR);
      const existed = existsSync(home);
      const { EMBEDDED_BLOBS, EMBEDDED_DATABASE, openEmbeddedStore, openStore, storeConfigFromEnv } =
        await import("@cairn/storage");
      const config = storeConfigFromEnv(home);
      if (config.databaseUrl === undefined && config.blobUrl === undefined) {
        // Opening creates the folder, the database and its schema; re-running init is harmless.
        const store = await openEmbeddedStore(home);
        await store.close();
        ctx.out.result({ store: home, created: !existed }, () =>
          existed ? `cairn store already exists in ${home}` : `initialised empty cairn store in ${home}`,
        );
        return;
      }
      // Opening checks the URLs, brings the database's schema up to date and reaches the bucket; re-running
      // init (or several servers starting at once) applies each migration exactly once.
      const store = await openStore(config);
      let artifacts: number;
      try {
        artifacts = (await store.meta.listArtifacts()).length;
      } finally {
        await store.close();
      }
      const database =
        config.databaseUrl === undefined ? join(home, EMBEDDED_DATABASE) : redact(config.databaseUrl);
      const blobs = config.blobUrl ?? join(home, EMBEDDED_BLOBS);
      ctx.out.result({ store: `${database} + ${blobs}`, database, blobs, artifacts }, () => [
        `cairn store ready: metadata in ${database}, blobs in ${blobs}`,
        artifacts === 0 ? "  it is empty" : `  it holds ${artifacts} artifact(s)`,
      ]);
    }),
  );
}
