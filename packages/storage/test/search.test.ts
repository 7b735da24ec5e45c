/**
 * The search contract on SQLite (embedded store) and PostgreSQL (a throwaway database).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "@cairn/storage";
import { afterAll } from "vitest";
import { runSearchContract } from "./contract/search-contract.js";
import { describePostgres } from "./helpers/postgres.js";

const dirs: string[] = [];
async function folder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-search-"));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

runSearchContract("sqlite", async () => openStore({ home: await folder() }));

await describePostgres("search", (db) => {
  runSearchContract("postgres", async () => openStore({ home: await folder(), databaseUrl: db.url }));
});
