/**
 * The tracking store contract on PostgreSQL (metadata in a throwaway database, blobs in a temp folder).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "@cairn/storage";
import { runTrackingContract } from "./contract/tracking-contract.js";
import { describePostgres } from "./helpers/postgres.js";

await describePostgres("tracking", (db) => {
  runTrackingContract(
    "postgres",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "cairn-pg-tracking-"));
      const store = await openStore({ home: dir, databaseUrl: db.url });
      return {
        meta: store.meta,
        content: store.content,
        close: async () => {
          await store.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
    db.reset,
  );
});
