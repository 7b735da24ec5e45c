/**
 * @module Compiles a parsed search into parameterised SQL for SQLite or PostgreSQL. Every value, and every
 * metric, param or tag key, travels as a bound parameter; the only text pasted into the SQL is this file's own
 * fixed fragments, so no filter can change the statement's shape. Conditions on metrics, tags and data are
 * `id IN (SELECT owner FROM part WHERE key = ? AND value > ?)`: both databases can then drive the search from the
 * part's (key, value) index instead of probing every version or run.
 */
import { invalid } from "../errors.js";
import type { Comparison, Condition, Field, Literal, OrderKey, SearchQuery } from "./parse.js";
import { syntaxError } from "./tokens.js";

export type SearchKind = "versions" | "runs";

/** What differs between the two databases, and nothing else. */
export interface SqlDialect {
  name: "sqlite" | "postgres";
  /** The placeholder for the n-th (1-based) parameter. */
  placeholder(n: number): string;
  /** Case-insensitive pattern match, so `like` means the same on both (SQLite's LIKE ignores ASCII case). */
  like: string;
  /**
   * A param condition: `number` / `text` turn the JSON value of param row `p` into a comparable SQL value (NULL
   * when it is of the other type), so `params.lr > 0.01` never compares a string with a number.
   */
  paramSource(kind: SearchKind): { from: string; owner: string | undefined; number: string; text: string };
}

export const sqliteDialect: SqlDialect = {
  name: "sqlite",
  placeholder: () => "?",
  like: "LIKE",
  paramSource: (kind) =>
    kind === "versions"
      ? {
          from: "json_each(v.params) p",
          owner: undefined,
          number: "CASE WHEN p.type IN ('integer', 'real') THEN p.value END",
          text: "CASE WHEN p.type = 'text' THEN p.value END",
        }
      : {
          from: "run_params p",
          owner: "p.run_id = r.id",
          number: "CASE WHEN json_type(p.value) IN ('integer', 'real') THEN json_extract(p.value, '$') END",
          text: "CASE WHEN json_type(p.value) = 'text' THEN json_extract(p.value, '$') END",
        },
};

export const postgresDialect: SqlDialect = {
  name: "postgres",
  placeholder: (n) => `$${n}`,
  like: "ILIKE",
  paramSource: (kind) => {
    const value = kind === "versions" ? "p.value" : "p.value::jsonb";
    return {
      from: kind === "versions" ? "jsonb_each(v.params) p" : "run_params p",
      owner: kind === "versions" ? undefined : "p.run_id = r.id",
      number: `CASE WHEN jsonb_typeof(${value}) = 'number' THEN (${value} #>> '{}')::float8 END`,
      text: `CASE WHEN jsonb_typeof(${value}) = 'string' THEN ${value} #>> '{}' END`,
    };
  },
};

/** Where each kind keeps its parts. */
interface KindTables {
  from: string;
  id: string;
  select: string;
  /** Each part's table and the column naming its owner (a version or a run). */
  metrics: { table: string; owner: string };
  tags: { table: string; owner: string };
  data: { table: string; owner: string };
  columns: Partial<Record<Field["scope"], string>>;
}

const TABLES: Record<SearchKind, KindTables> = {
  versions: {
    from: "versions v JOIN artifacts a ON a.id = v.artifact_id",
    id: "v.id",
    select: "a.name AS artifact, v.version AS version",
    metrics: { table: "version_metrics", owner: "version_id" },
    tags: { table: "version_tags", owner: "version_id" },
    data: { table: "version_data", owner: "version_id" },
    columns: { name: "a.name", version: "v.version", created_at: "v.created_at" },
  },
  runs: {
    from: "runs r JOIN experiments e ON e.id = r.experiment_id",
    id: "r.id",
    select: "r.id AS id, r.name AS name, e.name AS experiment, r.status AS status",
    metrics: { table: "run_metric_series", owner: "run_id" },
    tags: { table: "run_tags", owner: "run_id" },
    data: { table: "run_inputs", owner: "run_id" },
    columns: { name: "r.name", created_at: "r.start_time", status: "r.status", experiment: "e.name" },
  },
};

export interface CompiledSearch {
  sql: string;
  params: (string | number)[];
  /** Rows to return; the statement fetches one more so the caller knows whether a next page exists. */
  limit: number;
  offset: number;
}

export const DEFAULT_SEARCH_LIMIT = 50;
export const MAX_SEARCH_LIMIT = 1000;

/** The opaque paging token: where the next page starts. */
export function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString("base64url");
}

export function decodeCursor(cursor: string): number {
  try {
    const { o } = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as { o?: unknown };
    if (typeof o === "number" && Number.isSafeInteger(o) && o >= 0) return o;
  } catch {
    // fall through to the error below
  }
  throw invalid("this cursor is not one a search returned", {
    hint: "pass the nextCursor of the previous page",
  });
}

export interface CompileOptions {
  kind: SearchKind;
  dialect: SqlDialect;
  /** Overrides the query's own `limit`. */
  limit?: number | undefined;
  cursor?: string | undefined;
}

export function compileSearch(query: SearchQuery, options: CompileOptions): CompiledSearch {
  const { kind, dialect } = options;
  const tables = TABLES[kind];
  const params: (string | number)[] = [];
  const bind = (value: string | number): string => {
    params.push(value);
    return dialect.placeholder(params.length);
  };
  const fail = (column: number, message: string): Error => syntaxError(query.text, column, message);

  const column = (field: Field, at: number): string => {
    const sql = tables.columns[field.scope];
    if (sql === undefined) throw fail(at, `${field.scope} is not a field of ${kind}`);
    return sql;
  };

  const compare = (field: Field, op: Comparison, value: Literal, at: number): string => {
    const sqlOp = op === "!=" ? "<>" : op;
    switch (field.scope) {
      case "metrics": {
        const { table, owner } = tables.metrics;
        const head = `${tables.id} IN (SELECT m.${owner} FROM ${table} m WHERE m.key = ${bind(field.key)} AND `;
        if (typeof value === "string") throw fail(at, "a metric compares with a number, not a string");
        // NaN is stored as NULL (special 'NaN'), so it never satisfies an ordering; it can only be asked for.
        if (Number.isNaN(value)) {
          if (op === "=") return `${head}m.special = 'NaN')`;
          if (op === "!=") return `${head}m.value IS NOT NULL)`;
          throw fail(at, "NaN is not ordered; use = NaN or != NaN");
        }
        return `${head}m.value ${sqlOp} ${bind(value)})`;
      }
      case "params": {
        const source = dialect.paramSource(kind);
        const owner = source.owner === undefined ? "" : `${source.owner} AND `;
        const typed = typeof value === "number" ? source.number : source.text;
        if (typeof value === "number" && !Number.isFinite(value)) {
          throw fail(at, "params compare with finite numbers or strings");
        }
        return `EXISTS (SELECT 1 FROM ${source.from} WHERE ${owner}p.key = ${bind(field.key)} AND ${typed} ${sqlOp} ${bind(value)})`;
      }
      case "tags": {
        const { table, owner } = tables.tags;
        return `${tables.id} IN (SELECT t.${owner} FROM ${table} t WHERE t.key = ${bind(field.key)} AND t.value ${sqlOp} ${bind(String(value))})`;
      }
      case "data": {
        const { table, owner } = tables.data;
        return `${tables.id} IN (SELECT d.${owner} FROM ${table} d WHERE d.ref ${sqlOp} ${bind(String(value))})`;
      }
      default:
        return `${column(field, at)} ${sqlOp} ${bind(String(value))}`;
    }
  };

  const like = (field: Field, pattern: string, at: number): string => {
    const op = dialect.like;
    switch (field.scope) {
      case "metrics":
        throw fail(at, "like matches text; metrics are numbers");
      case "params": {
        const source = dialect.paramSource(kind);
        const owner = source.owner === undefined ? "" : `${source.owner} AND `;
        return `EXISTS (SELECT 1 FROM ${source.from} WHERE ${owner}p.key = ${bind(field.key)} AND ${source.text} ${op} ${bind(pattern)})`;
      }
      case "tags": {
        const { table, owner } = tables.tags;
        return `${tables.id} IN (SELECT t.${owner} FROM ${table} t WHERE t.key = ${bind(field.key)} AND t.value ${op} ${bind(pattern)})`;
      }
      case "data": {
        const { table, owner } = tables.data;
        return `${tables.id} IN (SELECT d.${owner} FROM ${table} d WHERE d.ref ${op} ${bind(pattern)})`;
      }
      default:
        return `${column(field, at)} ${op} ${bind(pattern)}`;
    }
  };

  const condition = (node: Condition): string => {
    switch (node.type) {
      case "compare":
        return compare(node.field, node.op, node.value, node.column);
      case "like": {
        const sql = like(node.field, node.pattern, node.column);
        return node.negated ? `NOT (${sql})` : sql;
      }
      case "in": {
        const sql = node.values.map((value) => compare(node.field, "=", value, node.column)).join(" OR ");
        return node.negated ? `NOT (${sql})` : `(${sql})`;
      }
      case "and":
      case "or":
        return `(${condition(node.left)} ${node.type.toUpperCase()} ${condition(node.right)})`;
      case "not":
        return `NOT (${condition(node.inner)})`;
    }
  };

  const orderExpression = (key: OrderKey): string[] => {
    const { field } = key;
    switch (field.scope) {
      case "metrics": {
        const { table, owner } = tables.metrics;
        return [
          `(SELECT m.value FROM ${table} m WHERE m.${owner} = ${tables.id} AND m.key = ${bind(field.key)})`,
        ];
      }
      case "tags": {
        const { table, owner } = tables.tags;
        return [
          `(SELECT t.value FROM ${table} t WHERE t.${owner} = ${tables.id} AND t.key = ${bind(field.key)})`,
        ];
      }
      case "params": {
        // Numbers first by value, then strings: one key rarely mixes the two.
        const source = dialect.paramSource(kind);
        const owner = source.owner === undefined ? "" : `${source.owner} AND `;
        return [source.number, source.text].map(
          (typed) => `(SELECT ${typed} FROM ${source.from} WHERE ${owner}p.key = ${bind(field.key)})`,
        );
      }
      case "data":
        throw fail(
          1,
          "order by data is not supported; order by a metric, param, tag, name, version or created_at",
        );
      default:
        return [column(field, 1)];
    }
  };

  const where = query.where === undefined ? "" : ` WHERE ${condition(query.where)}`;
  const orderKeys =
    query.orderBy.length > 0
      ? query.orderBy
      : [{ field: { scope: "created_at" }, descending: true } as OrderKey];
  // NULLS LAST on both: a version without the metric sorts after those with it, whichever the direction.
  const order = orderKeys
    .flatMap((key) =>
      orderExpression(key).map((sql) => `${sql} ${key.descending ? "DESC" : "ASC"} NULLS LAST`),
    )
    .concat(`${tables.id} ${orderKeys[0]?.descending ? "DESC" : "ASC"}`)
    .join(", ");

  const limit = options.limit ?? query.limit ?? DEFAULT_SEARCH_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_SEARCH_LIMIT) {
    throw invalid(`limit must be between 1 and ${MAX_SEARCH_LIMIT}`);
  }
  const offset = options.cursor === undefined ? 0 : decodeCursor(options.cursor);
  const sql = `SELECT ${tables.select} FROM ${tables.from}${where} ORDER BY ${order} LIMIT ${bind(limit + 1)} OFFSET ${bind(offset)}`;
  return { sql, params, limit, offset };
}
