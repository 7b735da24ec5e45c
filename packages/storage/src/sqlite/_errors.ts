/**
 * @module Turns SQLite's errors into cairn's coded errors, so no raw driver error reaches a user.
 */
import { CairnError, conflict, integrity, invalid, isCairnError } from "@cairn/core";
import Database from "better-sqlite3";

/** True for a UNIQUE or PRIMARY KEY violation: another row (maybe another process's) already holds the key. */
export function isUniqueViolation(error: unknown): boolean {
  return (
    error instanceof Database.SqliteError &&
    (error.code === "SQLITE_CONSTRAINT_UNIQUE" || error.code === "SQLITE_CONSTRAINT_PRIMARYKEY")
  );
}

export function toCairnError(error: unknown, doing: string): unknown {
  if (isCairnError(error) || !(error instanceof Database.SqliteError)) return error;
  const code = error.code;
  if (isUniqueViolation(error)) return conflict(`${doing}: it already exists`, { cause: error });
  if (code.startsWith("SQLITE_CONSTRAINT")) {
    return invalid(`${doing}: the store rejected the record (${code})`, { cause: error });
  }
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new CairnError("INTERNAL", `${doing}: the store is busy; another process holds its write lock`, {
      cause: error,
      hint: "try again when the other cairn command has finished",
    });
  }
  if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") {
    return integrity(`${doing}: the metadata database is damaged`, { cause: error });
  }
  return new CairnError("INTERNAL", `${doing}: the metadata database failed (${code})`, { cause: error });
}
