/**
 * @module The PostgreSQL side of `cairn migrate`: every registry table read through cursors in one
 * REPEATABLE READ snapshot, or loaded with COPY (the bulk path) in one transaction, so a killed load leaves the
 * database as empty as it was. Copied ids are kept, and each identity sequence is set past them.
 */
import { pipeline } from "node:stream/promises";
import {
  BATCH_ROWS,
  type ColumnType,
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
import { loadCopyStreams } from "./_copy.js";
import type { Database, Sql } from "./_database.js";
import { COPY_LOCK } from "./_locks.js";

const quote = (name: string): string => `"${name}"`;

/** JSON columns are read as text: json's as written, jsonb's in its own spelling (the value is the same). */
const selectExpression = (name: string, type: ColumnType): string =>
  type === "json" ? `${quote(name)}::text` : quote(name);

/** A value in COPY's text format: tab-separated, `\N` for NULL, backslash escapes in text. */
function copyText(type: ColumnType, value: unknown): string {
  if (value === null || value === undefined) return "\\N";
  switch (type) {
    case "bool":
      return value ? "t" : "f";
    case "bytes":
      return `\\\\x${Buffer.from(value as Uint8Array).toString("hex")}`;
    case "int":
    case "real":
      return String(value);
    default:
      return String(value).replace(/[\\\t\n\r]/g, (c) =>
        c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r",
      );
  }
}

async function counts(sql: Pick<Sql, "maybe">): Promise<RowCounts> {
  const result: RowCounts = {};
  for (const table of REGISTRY_TABLES) {
    const row = await sql.maybe<{ n: number }>(`SELECT count(*)::bigint AS n FROM ${quote(table.name)}`);
    result[table.name] = row?.n ?? 0;
  }
  return result;
}

/** Table → columns of the schema cairn's migrations made, from PostgreSQL's catalogue. */
export async function schema(sql: Pick<Sql, "rows">): Promise<Record<string, string[]>> {
  const rows = await sql.rows<{ table_name: string; column_name: string }>(
    `SELECT c.table_name, c.column_name FROM information_schema.columns c
     JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
     WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
     ORDER BY c.table_name, c.ordinal_position`,
  );
  const result: Record<string, string[]> = {};
  for (const row of rows) {
    result[row.table_name] ??= [];
    result[row.table_name]!.push(row.column_name);
  }
  return result;
}

async function* readTable(sql: Sql, table: TableSpec): AsyncIterable<Row[]> {
  const columns = table.columns.map(([name, type]) => selectExpression(name, type)).join(", ");
  const cursor = `migrate_${table.name}`;
  await sql.exec(
    `DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT ${columns} FROM ${quote(table.name)}
     ORDER BY ${table.order.map(quote).join(", ")}`,
  );
  try {
    for (;;) {
      const { rows } = await sql.client.query<unknown[]>({
        text: `FETCH ${BATCH_ROWS} FROM ${cursor}`,
        rowMode: "array",
      });
      if (rows.length === 0) return;
      yield rows;
    }
  } finally {
    await sql.exec(`CLOSE ${cursor}`);
  }
}

async function* readTables(sql: Sql): AsyncIterable<TableRows> {
  for (const table of REGISTRY_TABLES) yield { table, batches: readTable(sql, table) };
}

/** COPY's input for one table: its batches as text, a few hundred kilobytes per write. */
async function* copyLines(table: TableSpec, batches: AsyncIterable<Row[]>): AsyncIterable<string> {
  const types = table.columns.map(([, type]) => type);
  for await (const rows of batches) {
    let text = "";
    for (const row of rows) {
      text += `${row.map((value, i) => copyText(types[i]!, value)).join("\t")}\n`;
      if (text.length >= 256 * 1024) {
        yield text;
        text = "";
      }
    }
    if (text.length > 0) yield text;
  }
}

export class PostgresRegistryTables implements RegistryTables {
  private readonly db: Database;

  constructor(db: Database) {
    this.db = db;
  }

  get where(): string {
    return this.db.where;
  }

  countRows(): Promise<RowCounts> {
    return this.db.read("cannot count the registry's rows", counts);
  }

  readSnapshot<T>(body: (snapshot: TableSnapshot) => Promise<T>): Promise<T> {
    return this.db.read("cannot read the registry's tables", async (sql) => {
      checkCopiesEverything(this.where, await schema(sql), NOT_COPIED);
      return body({ counts: await counts(sql), tables: () => readTables(sql) });
    });
  }

  async load(source: AsyncIterable<TableRows>, check: (counts: RowCounts) => void): Promise<RowCounts> {
    const { from: copyFrom } = await loadCopyStreams();
    return this.db.write(`cannot load the registry into ${this.where}`, async (sql) => {
      // Two migrations into one database: the second waits, then finds it no longer empty.
      await sql.exec(COPY_LOCK);
      const before = await counts(sql);
      if (!isEmpty(before)) throw notEmpty(this.where, before);
      for await (const { table, batches } of source) {
        const columns = table.columns.map(([name]) => quote(name)).join(", ");
        await pipeline(
          copyLines(table, batches),
          sql.client.query(copyFrom(`COPY ${quote(table.name)} (${columns}) FROM STDIN`)),
        );
        if (table.identity !== undefined) {
          const column = quote(table.identity);
          await sql.exec(
            `SELECT setval(pg_get_serial_sequence('${quote(table.name)}', '${table.identity}'),
                           coalesce(max(${column}), 0) + 1, false) FROM ${quote(table.name)}`,
          );
        }
      }
      const after = await counts(sql);
      check(after);
      return after;
    });
  }
}
