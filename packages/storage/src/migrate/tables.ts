/**
 * @module The registry's tables as `cairn migrate` copies them: every table that holds what a user keeps, in an
 * order that satisfies the foreign keys, each with its columns in a form both drivers read and write. Rows
 * keep their ids, so references, paging and history survive the move unchanged. Upload sessions and claims
 * are left out: they describe pushes in flight on the source, which mean nothing on the destination.
 */

import { CairnError, conflict } from "@cairn/core";

/**
 * How a column's value travels between drivers: `json` as JSON text, `bool` as true/false (SQLite keeps 0/1),
 * `bytes` as a Buffer (32-byte hashes).
 */
export type ColumnType = "int" | "real" | "text" | "json" | "bool" | "bytes";

export interface TableSpec {
  name: string;
  /** Column names and types, in the order every row lists its values. */
  columns: ReadonlyArray<readonly [name: string, type: ColumnType]>;
  /** The columns rows are read in order of: the primary key, so a copy is deterministic. */
  order: readonly string[];
  /**
   * The table's identity column, if any: PostgreSQL's sequence behind it is set past the copied values, so the
   * next row inserted on the destination does not collide with a copied one.
   */
  identity?: string;
}

/** One row's values, in `TableSpec.columns` order. */
export type Row = unknown[];

const text = (...names: string[]) => names.map((name) => [name, "text"] as const);
const int = (...names: string[]) => names.map((name) => [name, "int"] as const);

/**
 * Two columns are not stored alike by both drivers. `ord` of version_data and run_inputs (the order refs were
 * given) is a column in PostgreSQL and the rowid order in SQLite; `seq` of run_metrics (the logging order of a
 * metric's points) is an identity column in PostgreSQL and the rowid in SQLite. Each driver maps them.
 */
export const REGISTRY_TABLES: readonly TableSpec[] = [
  {
    name: "artifacts",
    columns: [...int("id"), ...text("name", "type", "created_at")],
    order: ["id"],
    identity: "id",
  },
  {
    name: "versions",
    columns: [
      ...int("id", "artifact_id"),
      ...text("version"),
      ...int("seq"),
      ...text("created_at", "created_by"),
      ["params", "json"],
      ...text("notes"),
      ["code", "json"],
      ["environment", "json"],
      ...text("run"),
      ...int("major", "minor", "patch"),
      ...text("base"),
    ],
    order: ["id"],
    identity: "id",
  },
  {
    name: "version_files",
    columns: [...int("version_id"), ...text("path"), ...int("size", "mode"), ...text("sha256")],
    order: ["version_id", "path"],
  },
  {
    name: "version_metrics",
    columns: [...int("version_id"), ...text("key"), ["value", "real"], ...text("special")],
    order: ["version_id", "key"],
  },
  {
    name: "version_tags",
    columns: [...int("version_id"), ...text("key", "value")],
    order: ["version_id", "key"],
  },
  {
    name: "version_data",
    columns: [...int("version_id", "ord"), ...text("ref")],
    order: ["version_id", "ord"],
  },
  {
    name: "aliases",
    columns: [
      ...int("artifact_id"),
      ...text("alias"),
      ...int("version_id"),
      ["protected", "bool"],
      ...text("updated_at"),
    ],
    order: ["artifact_id", "alias"],
  },
  {
    name: "alias_events",
    columns: [
      ...int("id", "artifact_id"),
      ...text("alias", "action", "from_version", "to_version", "actor", "at", "reason"),
    ],
    order: ["id"],
    identity: "id",
  },
  {
    name: "audit_events",
    columns: [
      ...int("id"),
      ...text("at", "actor", "action", "artifact", "target"),
      ["before", "json"],
      ["after", "json"],
    ],
    order: ["id"],
    identity: "id",
  },
  {
    name: "api_tokens",
    columns: [...int("id"), ...text("name", "role", "secret_sha256", "created_at", "created_by")],
    order: ["id"],
    identity: "id",
  },
  {
    name: "packs",
    columns: [...int("id"), ...text("key"), ...int("size", "chunk_count"), ...text("created_at")],
    order: ["id"],
    identity: "id",
  },
  {
    name: "chunks",
    columns: [["hash", "bytes"], ...int("pack_id", "offset", "length")],
    order: ["hash"],
  },
  {
    name: "contents",
    columns: [...int("id"), ...text("sha256"), ...int("size", "chunk_count"), ...text("created_at")],
    order: ["id"],
    identity: "id",
  },
  {
    name: "content_chunks",
    columns: [...int("content_id", "ord"), ["hash", "bytes"], ...int("length")],
    order: ["content_id", "ord"],
  },
  {
    name: "experiments",
    columns: [...int("id"), ...text("name", "created_at")],
    order: ["id"],
    identity: "id",
  },
  {
    name: "runs",
    columns: [
      ...text("id"),
      ...int("experiment_id"),
      ...text("name", "status", "start_time", "end_time", "created_by"),
      ["code", "json"],
      ["environment", "json"],
      ...text("command"),
    ],
    order: ["id"],
  },
  { name: "run_params", columns: text("run_id", "key", "value"), order: ["run_id", "key"] },
  {
    name: "run_metric_series",
    columns: [
      ...int("id"),
      ...text("run_id", "key"),
      ...int("step", "timestamp"),
      ["value", "real"],
      ...text("special"),
    ],
    order: ["id"],
    identity: "id",
  },
  {
    name: "run_metrics",
    columns: [...int("seq", "series_id", "step", "timestamp"), ["value", "real"], ...text("special")],
    order: ["seq"],
    identity: "seq",
  },
  { name: "run_tags", columns: text("run_id", "key", "value"), order: ["run_id", "key"] },
  {
    name: "run_inputs",
    columns: [...text("run_id"), ...int("ord"), ...text("ref", "path")],
    order: ["run_id", "ord"],
  },
  {
    name: "run_artifacts",
    columns: [...text("run_id", "path"), ...int("size", "mode"), ...text("sha256")],
    order: ["run_id", "path"],
  },
  { name: "run_lock_files", columns: text("run_id", "path", "sha256"), order: ["run_id", "path"] },
];

/** Rows per table, by table name. */
export type RowCounts = Record<string, number>;

/** A table's rows, in batches, from one snapshot of the source. */
export interface TableRows {
  table: TableSpec;
  batches: AsyncIterable<Row[]>;
}

/** A consistent read of every registry table. */
export interface TableSnapshot {
  counts: RowCounts;
  /** Each table in REGISTRY_TABLES order; a table's batches must be read before the next table is asked for. */
  tables(): AsyncIterable<TableRows>;
}

/** What a metadata driver offers `cairn migrate`: its tables, read in one snapshot or loaded in one transaction. */
export interface RegistryTables {
  /** Where the tables are, for messages (a file path, or host:port/database). */
  readonly where: string;
  countRows(): Promise<RowCounts>;
  /** Runs `body` over one snapshot of every table, held until it returns. */
  readSnapshot<T>(body: (snapshot: TableSnapshot) => Promise<T>): Promise<T>;
  /**
   * Loads every table in one transaction, which commits only if the store was empty when it began (else
   * CONFLICT) and `check` accepts the row counts the transaction sees before committing. A failure at any
   * point, or a killed process, leaves the tables as empty as they were.
   */
  load(source: AsyncIterable<TableRows>, check: (counts: RowCounts) => void): Promise<RowCounts>;
}

/** Rows read per batch: enough to make per-batch costs vanish, few enough to keep memory flat. */
export const BATCH_ROWS = 5000;

/** Whether a store holds any row in any registry table. */
export const isEmpty = (counts: RowCounts): boolean => Object.values(counts).every((n) => n === 0);

/** CONFLICT for a destination that already holds a registry, naming what it holds. */
export function notEmpty(where: string, counts: RowCounts): CairnError {
  const held = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([table, n]) => `${n} ${table}`)
    .slice(0, 4)
    .join(", ");
  return conflict(
    `the destination ${where} is not empty (${held}): cairn migrate copies only into an empty store`,
    {
      hint:
        "name an empty database and blob place, or empty this one first; if an interrupted `cairn migrate` " +
        "already committed there, `cairn verify` on it says whether the copy is whole",
    },
  );
}

/**
 * What neither driver copies: pushes in flight on the source (their sessions, and their claims on contents,
 * chunks and packs) mean nothing on the destination, and the destination has its own migrations.
 */
export const NOT_COPIED = {
  tables: ["schema_migrations", "upload_sessions", "claims", "pack_claims"],
  columns: [],
} as const;

/**
 * The columns of `schema` (table → column names, as a driver reads them from its catalogue) that no entry of
 * REGISTRY_TABLES copies, apart from those the driver names as not worth copying. A later migration that adds
 * a table or a column must add it to REGISTRY_TABLES too; until then a migrate refuses to run rather than
 * silently leave data behind.
 */
export function uncopiedColumns(
  schema: Record<string, string[]>,
  skipped: { tables: readonly string[]; columns: readonly string[] },
): string[] {
  const known = new Map(REGISTRY_TABLES.map((t) => [t.name, new Set(t.columns.map(([name]) => name))]));
  const missing: string[] = [];
  for (const [table, columns] of Object.entries(schema)) {
    if (skipped.tables.includes(table)) continue;
    const copied = known.get(table);
    for (const column of columns) {
      const name = `${table}.${column}`;
      if (!copied?.has(column) && !skipped.columns.includes(name)) missing.push(name);
    }
  }
  return missing;
}

/** INTERNAL when the schema holds data REGISTRY_TABLES does not copy (see `uncopiedColumns`). */
export function checkCopiesEverything(
  where: string,
  schema: Record<string, string[]>,
  skipped: { tables: readonly string[]; columns: readonly string[] },
): void {
  const missing = uncopiedColumns(schema, skipped);
  if (missing.length > 0) {
    throw new CairnError(
      "INTERNAL",
      `cairn migrate does not know how to copy ${missing.join(", ")} of ${where}`,
      {
        hint: "this cairn's migrate is older than its schema; upgrade cairn",
      },
    );
  }
}
