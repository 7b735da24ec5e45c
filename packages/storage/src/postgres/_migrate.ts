/**
 * @module Brings a PostgreSQL database's schema up to date. Up-to-date databases (the common case) are only
 * read; otherwise the migrations run in one transaction under an advisory lock, so several servers starting
 * at once apply each migration exactly once and none sees a half-migrated schema.
 */
import { CairnError } from "@cairn/core";
import type { Database, Sql } from "./_database.js";
import { MIGRATION_LOCK } from "./_locks.js";
import { MIGRATIONS } from "./_migrations.js";

async function appliedVersion(sql: Pick<Sql, "maybe">): Promise<number> {
  const table = await sql.maybe<{ present: boolean }>(
    "SELECT to_regclass('schema_migrations') IS NOT NULL AS present",
  );
  if (!table?.present) return 0;
  const row = await sql.maybe<{ version: number | null }>(
    "SELECT max(version) AS version FROM schema_migrations",
  );
  return row?.version ?? 0;
}

function check(applied: number, where: string): void {
  if (applied > MIGRATIONS.length) {
    throw new CairnError(
      "INTERNAL",
      `the metadata database ${where} has schema version ${applied}, newer than this cairn knows (${MIGRATIONS.length})`,
      { hint: "upgrade cairn" },
    );
  }
}

export async function migrate(db: Database): Promise<void> {
  const before = await db.read("cannot open the metadata database", appliedVersion);
  check(before, db.where);
  if (before === MIGRATIONS.length) return;
  await db.write(`cannot migrate the metadata database ${db.where}`, async (sql) => {
    await sql.exec(MIGRATION_LOCK);
    await sql.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at text NOT NULL)",
    );
    const applied = await appliedVersion(sql);
    check(applied, db.where);
    for (let version = applied + 1; version <= MIGRATIONS.length; version++) {
      await sql.exec(MIGRATIONS[version - 1]!);
      await sql.run("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", [
        version,
        new Date().toISOString(),
      ]);
    }
  });
}
