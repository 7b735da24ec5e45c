/**
 * @module `cairn init`: creates the embedded store (.cairn/) in the current folder.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { defineCommand, withContext } from "../program.js";
import { localOnly } from "../registry-backend.js";
import { STORE_DIR } from "../store-location.js";

export function registerInit(program: Command): void {
  defineCommand(program, {
    name: "init",
    description: `create an embedded store (${STORE_DIR}/: SQLite metadata and a blob folder) in the current folder`,
    examples: ["cairn init", "CAIRN_HOME=~/registry cairn list   # or keep the store anywhere"],
  }).action(
    withContext(async (ctx) => {
      localOnly(ctx, "init", "it creates a store in this folder");
      const home = join(ctx.cwd, STORE_DIR);
      const existed = existsSync(home);
      const { openEmbeddedStore } = await import("@cairn/storage");
      // Opening creates the folder, the database and its schema; re-running init is harmless.
      const store = await openEmbeddedStore(home);
      await store.close();
      ctx.out.result({ store: home, created: !existed }, () =>
        existed ? `cairn store already exists in ${home}` : `initialised empty cairn store in ${home}`,
      );
    }),
  );
}
