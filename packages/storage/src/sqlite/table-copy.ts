/**
 * @module The SQLite side of `cairn migrate`: every registry table read in one snapshot, or loaded in one
 * write transaction (BEGIN IMMEDIATE … COMMIT), so a killed load leaves the database as empty as it was.
 */
import {
  BATCH_ROWS,
  checkCopiesEverything,
  isEmpty,
  NOT_COPIED,
  notEmpty,
  REGISTRY_TABLES,
  type RegistryTables,
  type Row,
  type RowCounts,
  type TableRows,
  type TableSnapshot,
  type TableSpec,
} from "../migrate/tables.js";
import type { Connection } from "./_connection.js";
import { toCairnError } from "./_errors.js";
import type { Db } from "./_open.js";

/** The SQL expression each column is read from, where SQLite keeps it differently (see REGISTRY_TABLES). */
function selectExpression(table: TableSpec, column: string): string {
  if (column === "ord" && (table.name === "version_data" || table.name === "run_inputs")) {
    const owner = table.name === "version_data" ? "version_id" : "run_id";
    return `row_number() OVER (PARTITION BY ${owner} ORDER BY rowid)`;
  }
  if (column === "seq" && table.name === "run_metrics") return "rowid";
  return `"${column}"`;
}

/** The column each value is written to: none for `ord` (the insertion order is the rowid order). */
function insertColumn(table: TableSpec, column: string): string | null {
  if (column === "ord" && (table.name === "version_data" || table.name === "run_inputs")) return null;
  if (column === "seq" && table.name === "run_metrics") return "rowid";
  return `"${column}"`;
}

function readValue(type: string, value: unknown): unknown {
  if (type === "bool") return value === 1;
  return value;
}

function writeValue(type: string, value: unknown): unknown {
  if (type === "bool") return value === true ? 1 : 0;
  if (type === "bytes" && value instanceof Uint8Array && !Buffer.isBuffer(value)) return Buffer.from(value);
  return value;
}

async function* readTable(db: Db, table: TableSpec): AsyncIterable<Row[]> {
  const columns = table.columns.map(([name]) => selectExpression(table, name)).join(", ");
  const order = table.order.map((name) => selectExpression(table, name)).join(", ");
  const statement = db.prepare(`SELECT ${columns} FROM "${table.name}" ORDER BY ${order}`).raw();
  const types = table.columns.map(([, type]) => type);
  let batch: Row[] = [];
  for (const row of statement.iterate() as Iterable<unknown[]>) {
    batch.push(row.map((value, i) => readValue(types[i]!, value)));
    if (batch.length >= BATCH_ROWS) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

async function* readTables(db: Db): AsyncIterable<TableRows> {
  for (const table of REGISTRY_TABLES) yield { table, batches: readTable(db, table) };
}

export class SqliteRegistryTables implements RegistryTables {
  private readonly c: Connection;

  constructor(connection: Connection) {
    this.c = connection;
  }

  get where(): string {
    return this.c.path;
  }

  private counts(): RowCounts {
    const counts: RowCounts = {};
    for (const table of REGISTRY_TABLES) {
      counts[table.name] = this.c.db.prepare(`SELECT count(*) FROM "${table.name}"`).pluck().get() as number;
    }
    return counts;
  }

  countRows(): Promise<RowCounts> {
    return this.c.read("cannot count the registry's rows", () => this.counts());
  }

  /** Table → columns, from SQLite's catalogue. */
  schema(): Record<string, string[]> {
    const tables = this.c.db
      .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .pluck()
      .all() as string[];
    return Object.fromEntries(
      tables.map((table) => [
        table,
        this.c.db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[],
      ]),
    );
  }

  async readSnapshot<T>(body: (snapshot: TableSnapshot) => Promise<T>): Promise<T> {
    const { db } = this.c;
    checkCopiesEverything(this.where, this.schema(), NOT_COPIED);
    // A read transaction held across the awaits of the copy: WAL keeps its snapshot whatever commits meanwhile.
    db.exec("BEGIN");
    try {
      return await body({ counts: this.counts(), tables: () => readTables(db) });
    } catch (error) {
      throw toCairnError(error, "cannot read the registry's tables");
    } finally {
      if (db.open && db.inTransaction) db.exec("ROLLBACK");
    }
  }

  async load(source: AsyncIterable<TableRows>, check: (counts: RowCounts) => void): Promise<RowCounts> {
    const { db } = this.c;
    db.exec("BEGIN IMMEDIATE");
    try {
      const before = this.counts();
      if (!isEmpty(before)) throw notEmpty(this.where, before);
      for await (const { table, batches } of source) {
        const targets = table.columns.map(([name]) => insertColumn(table, name));
        const kept = targets.flatMap((target, i) => (target === null ? [] : [i]));
        const insert = db.prepare(
          `INSERT INTO "${table.name}" (${kept.map((i) => targets[i]).join(", ")}) VALUES (${kept.map(() => "?").join(", ")})`,
        );
        for await (const rows of batches) {
          for (const row of rows) {
            insert.run(kept.map((i) => writeValue(table.columns[i]![1], row[i])));
          }
        }
      }
      const after = this.counts();
      check(after);
      db.exec("COMMIT");
      return after;
    } catch (error) {
      if (db.inTransaction) db.exec("ROLLBACK");
      throw toCairnError(error, `cannot load the registry into ${this.where}`);
    }
  }
}
