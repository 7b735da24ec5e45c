/**
 * @module Opens a SQLite database for cairn: connection settings, then the schema migrations.
 */
import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { CairnError, invalid } from "@cairn/core";
import Database from "better-sqlite3";
import { MIGRATIONS } from "./_migrations.js";

// Two CLI processes (or a CLI and a server) may write at once; a writer waits this long for the other.
const BUSY_TIMEOUT_MS = 10_000;
// SQLite's default page cache is 2 MB: a search that looks up thousands of rows then re-reads most pages from
// the OS. 16 MB per connection holds the hot index pages of a 100k-run registry, and reads through a mapping
// skip the copy into the cache. Both stay small next to the 300 MB a 4 GB push or pull may use: the cache
// fills only as pages are read, and mapped pages count only once touched (and the OS may drop them).
const CACHE_KIB = 16_000;
const MMAP_BYTES = 64 * 1024 * 1024;

export type Db = Database.Database;

export function openDatabase(path: string): Db {
  if (typeof path !== "string" || path.trim() === "") {
    throw invalid("the metadata database needs a file path");
  }
  const inMemory = path === ":memory:";
  if (!inMemory) {
    const folder = dirname(resolve(path));
    if (!existsSync(folder) || !statSync(folder).isDirectory()) {
      throw invalid(`cannot open the metadata database ${path}: folder ${folder} does not exist`);
    }
  }
  let db: Db;
  try {
    db = new Database(path);
  } catch (error) {
    throw new CairnError("INTERNAL", `cannot open the metadata database ${path}`, { cause: error });
  }
  try {
    // busy_timeout first: even switching to WAL on a fresh file takes a lock another process may hold.
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (!inMemory) {
      const mode = whileBusy(() => db.pragma("journal_mode = WAL", { simple: true }));
      if (String(mode).toLowerCase() !== "wal") {
        throw new CairnError("INTERNAL", `cannot switch ${path} to WAL mode (got ${String(mode)})`);
      }
    }
    // In WAL, NORMAL loses at most the last commits on power loss, never consistency.
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    db.pragma(`cache_size = -${CACHE_KIB}`);
    if (!inMemory) db.pragma(`mmap_size = ${MMAP_BYTES}`);
    migrate(db, path);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Runs `step` again while SQLite answers SQLITE_BUSY, up to `timeoutMs`. The busy timeout covers most waits,
 * but SQLite skips it where waiting could deadlock: two processes switching a fresh file to WAL at once both hold
 * a shared lock and want an exclusive one, and one is told BUSY at once. It holds no lock after the failed
 * statement, so trying again shortly after lets the other finish.
 */
export function whileBusy<T>(step: () => T, timeoutMs = BUSY_TIMEOUT_MS): T {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 2; ; pause = Math.min(pause * 2, 100)) {
    try {
      return step();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code !== "string" || !code.startsWith("SQLITE_BUSY") || Date.now() >= deadline) throw error;
      // Opening is synchronous (better-sqlite3), so the pause is too; it happens only on contention at open.
      Atomics.wait(PAUSE, 0, 0, pause);
    }
  }
}
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

function appliedVersion(db: Db): number {
  const table = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
    .get();
  if (table === undefined) return 0;
  const row = db.prepare("SELECT max(version) AS version FROM schema_migrations").get() as {
    version: number | null;
  };
  return row.version ?? 0;
}

/**
 * Applies the migrations this database lacks. Up-to-date databases (the common case) are only read; otherwise
 * the check is repeated under the write lock (BEGIN IMMEDIATE), so two processes opening a fresh database at
 * once apply each migration exactly once.
 */
function migrate(db: Db, path: string): void {
  const check = (applied: number) => {
    if (applied > MIGRATIONS.length) {
      throw new CairnError(
        "INTERNAL",
        `the metadata database ${path} has schema version ${applied}, newer than this cairn knows (${MIGRATIONS.length})`,
        { hint: "upgrade cairn" },
      );
    }
  };
  const before = appliedVersion(db);
  check(before);
  if (before === MIGRATIONS.length) return;
  db.transaction(() => {
    db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL) STRICT",
    );
    const applied = appliedVersion(db);
    check(applied);
    const record = db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)");
    for (let version = applied + 1; version <= MIGRATIONS.length; version++) {
      db.exec(MIGRATIONS[version - 1]!);
      record.run(version, new Date().toISOString());
    }
  }).immediate();
}
