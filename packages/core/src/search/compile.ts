/**
 * @module Compiles a parsed search into parameterised SQL for SQLite or PostgreSQL. Every value, and every
 * metric, param or tag key, travels as a bound parameter; the only text pasted into the SQL is this file's own
 * fixed fragments and whole numbers it computed (limits), so no filter can change the statement's shape.
 * Conditions on metrics, tags and data are `id IN (SELECT owner FROM part WHERE key = ? AND value > ?)` where a
 * filter drives (both databases can then start from the part's (key, value) index), and a per-row lookup where
 * rows come from a walk of the sort key's index (see CompiledSearch).
 */
import { invalid } from "../errors.js";
import { type Cursor, decodeCursor, type SortValue } from "./cursor.js";
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
   * when it is of the other type), so `params.lr > 0.01` never compares a string with a number. `owner` ties the
   * param rows to the run with id `id`.
   */
  paramSource(
    kind: SearchKind,
    id: string,
  ): { from: string; owner: string | undefined; number: string; text: string };
  /**
   * Appended to a subquery that must stay a per-row lookup: PostgreSQL turns EXISTS into a join it may run
   * as a hash over every matching row, which is slower than the lookups when a scan stops after a few rows.
   */
  lookupFence: string;
}

export const sqliteDialect: SqlDialect = {
  name: "sqlite",
  placeholder: () => "?",
  like: "LIKE",
  lookupFence: "",
  paramSource: (kind, id) =>
    kind === "versions"
      ? {
          from: "json_each(v.params) p",
          owner: undefined,
          number: "CASE WHEN p.type IN ('integer', 'real') THEN p.value END",
          text: "CASE WHEN p.type = 'text' THEN p.value END",
        }
      : {
          from: "run_params p",
          owner: `p.run_id = ${id}`,
          number: "CASE WHEN json_type(p.value) IN ('integer', 'real') THEN json_extract(p.value, '$') END",
          text: "CASE WHEN json_type(p.value) = 'text' THEN json_extract(p.value, '$') END",
        },
};

export const postgresDialect: SqlDialect = {
  name: "postgres",
  placeholder: (n) => `$${n}`,
  like: "ILIKE",
  // OFFSET keeps PostgreSQL from pulling the subquery up into a join.
  lookupFence: " OFFSET 0",
  paramSource: (kind, id) => {
    const value = kind === "versions" ? "p.value" : "p.value::jsonb";
    return {
      // versions.params is json (its text as the user wrote it); the cast gives jsonb's functions a value.
      from: kind === "versions" ? "jsonb_each(v.params::jsonb) p" : "run_params p",
      owner: kind === "versions" ? undefined : `p.run_id = ${id}`,
      number: `CASE WHEN jsonb_typeof(${value}) = 'number' THEN (${value} #>> '{}')::float8 END`,
      text: `CASE WHEN jsonb_typeof(${value}) = 'string' THEN ${value} #>> '{}' END`,
    };
  },
};

/** Where each kind keeps its parts. */
interface KindTables {
  /** The kind's own table, aliased, and the join that completes a hit. */
  table: string;
  joins: string;
  id: string;
  /** A version's id is a number, a run's a text: what a cursor's id must be. */
  idType: "number" | "text";
  select: string;
  /** Each part's table and the column naming its owner (a version or a run). */
  metrics: { table: string; owner: string };
  tags: { table: string; owner: string };
  data: { table: string; owner: string };
  columns: Partial<Record<Field["scope"], string>>;
  /** The fields whose column lives in a joined table: only a filter or order on these needs the joins early. */
  joined: Field["scope"][];
  /** The creation time: its table and column, indexed with the id for the default order (newest first). */
  created: { table: string; owner: string; value: string };
}

const TABLES: Record<SearchKind, KindTables> = {
  versions: {
    table: "versions v",
    joins: "JOIN artifacts a ON a.id = v.artifact_id",
    id: "v.id",
    idType: "number",
    select: "a.name AS artifact, v.version AS version",
    metrics: { table: "version_metrics", owner: "version_id" },
    tags: { table: "version_tags", owner: "version_id" },
    data: { table: "version_data", owner: "version_id" },
    columns: { name: "a.name", version: "v.version", created_at: "v.created_at" },
    joined: ["name"],
    created: { table: "versions", owner: "id", value: "created_at" },
  },
  runs: {
    table: "runs r",
    joins: "JOIN experiments e ON e.id = r.experiment_id",
    id: "r.id",
    idType: "text",
    select: "r.id AS id, r.name AS name, e.name AS experiment, r.status AS status",
    metrics: { table: "run_metric_series", owner: "run_id" },
    tags: { table: "run_tags", owner: "run_id" },
    data: { table: "run_inputs", owner: "run_id" },
    columns: { name: "r.name", created_at: "r.start_time", status: "r.status", experiment: "e.name" },
    joined: ["experiment"],
    created: { table: "runs", owner: "id", value: "start_time" },
  },
};

export type SqlValue = string | number | null;

/** One statement and the values bound to its placeholders. */
export interface Statement {
  sql: string;
  params: SqlValue[];
}

/**
 * A search as the statements that may answer it; `searchSteps` (page.ts) runs them. Every statement returns the
 * hit's columns plus `sort_0`… (its sort values) and `sort_id`, from which the next page's cursor is made, and
 * at most `limit + 1` rows: one more than the page, so the caller knows whether a next page exists.
 *
 * When the order is one indexed key (a metric, a tag, the creation time), the search walks that key's
 * (key, value, owner) index in order and checks the filter on each entry met (`scan`), which stops as soon as
 * the page is full: fast for a broad filter, whatever the table's size. A narrow filter would make that walk
 * long, so `scan` reads at most `budget` entries; when they hold too few hits and the index has more
 * (`scanned` counts them), the filter is narrow: if the scan found a few hits (WALK_MIN_HITS), `walk` builds
 * each of the filter's sets once and walks the index again to the page's end, probing them (no lookup per hit,
 * no sort); if it found fewer, `sorted` sorts every hit (cheap, since so few match).
 * Rows lacking the key (or holding NaN) sort last, by id: `missing` finds them once the scan has run out.
 * Any other order runs `sorted` alone. `sorted` finds every hit's sort values and id, sorts them, and joins only
 * the page's rows to what a hit shows.
 */
export interface CompiledSearch {
  kind: SearchKind;
  limit: number;
  /** The order, as the cursor records it. */
  order: string;
  budget: number;
  scan: Statement | undefined;
  scanned: Statement | undefined;
  walk: Statement | undefined;
  missing: Statement | undefined;
  sorted: Statement;
}

export const DEFAULT_SEARCH_LIMIT = 50;
export const MAX_SEARCH_LIMIT = 1000;
/**
 * Index entries a scan reads before letting the filter drive. A filter that matches a fraction f of the rows
 * needs about (limit + 1) / f entries; past this many it matches few enough that sorting all its hits is cheaper.
 */
export const SCAN_BUDGET = 1000;
/**
 * Hits a budget-long scan must have found for `walk` to take over a narrow search: then the filter matches at
 * least WALK_MIN_HITS / SCAN_BUDGET of the entries, so the walk reaches a full page within about
 * (limit + 1) × SCAN_BUDGET / WALK_MIN_HITS entries (~13,000 for the default page) however large the table,
 * while sorting every hit grows with the table. Below it the hits are few enough to sort.
 */
export const WALK_MIN_HITS = 4;

export interface CompileOptions {
  kind: SearchKind;
  dialect: SqlDialect;
  /** Overrides the query's own `limit`. */
  limit?: number | undefined;
  cursor?: string | undefined;
}

/** A sort expression and the type of its values (what a cursor may carry for it). */
interface SortExpression {
  sql: string;
  type: "number" | "text";
  descending: boolean;
}

/** An order one index serves: the part's table, the owner column, the value column, and the key if keyed. */
interface IndexedOrder {
  field: Field;
  table: string;
  owner: string;
  value: string;
  key: string | undefined;
  /** Whether rows can lack it (a metric or tag not logged, a NaN): those come after the scan, in `missing`. */
  nullable: boolean;
  type: "number" | "text";
  descending: boolean;
}

const ORDERINGS = new Set<Comparison>(["=", "<", "<=", ">", ">="]);

/** Writes one statement: binds values in the order their placeholders appear in the text. */
class StatementWriter {
  readonly params: SqlValue[] = [];
  private readonly tables: KindTables;

  /**
   * @param probe the id column of rows that come from elsewhere (a scan of the sort key's index) and each need
   *   checking: then a condition on a part is a lookup of that row's part by (owner, key), on that id so it runs
   *   before the row is joined, instead of a set the database may build whole (`id IN (SELECT …)`, which lets
   *   a narrow filter drive the search from the part's index).
   */
  /**
   * @param owner in set form, the column a part's owners are matched against (default the kind's id): a walk
   *   of a part's index matches its own owner column, so the filter runs before any row is joined.
   */
  constructor(
    private readonly query: SearchQuery,
    private readonly kind: SearchKind,
    private readonly dialect: SqlDialect,
    private readonly probe?: string,
    private readonly owner?: string,
  ) {
    this.tables = TABLES[kind];
  }

  bind(value: SqlValue): string {
    this.params.push(value);
    return this.dialect.placeholder(this.params.length);
  }

  fail(column: number, message: string): Error {
    return syntaxError(this.query.text, column, message);
  }

  private get fence(): string {
    return this.probe === undefined ? "" : this.dialect.lookupFence;
  }

  /** The owners of a part's rows that match `where` (its rows aliased `alias`), in the writer's shape. */
  private owners(part: { table: string; owner: string }, alias: string, where: string): string {
    return this.probe !== undefined
      ? `EXISTS (SELECT 1 FROM ${part.table} ${alias} WHERE ${alias}.${part.owner} = ${this.probe} AND ${where}${this.fence})`
      : `${this.owner ?? this.tables.id} IN (SELECT ${alias}.${part.owner} FROM ${part.table} ${alias} WHERE ${where})`;
  }

  private column(field: Field, at: number): string {
    const sql = this.tables.columns[field.scope];
    if (sql === undefined) throw this.fail(at, `${field.scope} is not a field of ${this.kind}`);
    return sql;
  }

  /** The filter, or undefined when the query has none. */
  where(): string | undefined {
    return this.query.where === undefined ? undefined : this.condition(this.query.where);
  }

  private compare(field: Field, op: Comparison, value: Literal, at: number): string {
    const { tables, dialect } = this;
    const sqlOp = op === "!=" ? "<>" : op;
    switch (field.scope) {
      case "metrics": {
        if (typeof value === "string") throw this.fail(at, "a metric compares with a number, not a string");
        const key = `m.key = ${this.bind(field.key)}`;
        // NaN is stored as NULL (special 'NaN'), so it never satisfies an ordering; it can only be asked for.
        if (Number.isNaN(value)) {
          if (op === "=") return this.owners(tables.metrics, "m", `${key} AND m.special = 'NaN'`);
          if (op === "!=") return this.owners(tables.metrics, "m", `${key} AND m.value IS NOT NULL`);
          throw this.fail(at, "NaN is not ordered; use = NaN or != NaN");
        }
        return this.owners(tables.metrics, "m", `${key} AND m.value ${sqlOp} ${this.bind(value)}`);
      }
      case "params": {
        const source = dialect.paramSource(this.kind, this.probe ?? this.tables.id);
        const owner = source.owner === undefined ? "" : `${source.owner} AND `;
        const typed = typeof value === "number" ? source.number : source.text;
        if (typeof value === "number" && !Number.isFinite(value)) {
          throw this.fail(at, "params compare with finite numbers or strings");
        }
        return `EXISTS (SELECT 1 FROM ${source.from} WHERE ${owner}p.key = ${this.bind(field.key)} AND ${typed} ${sqlOp} ${this.bind(value)}${this.fence})`;
      }
      case "tags": {
        const key = `t.key = ${this.bind(field.key)}`;
        return this.owners(tables.tags, "t", `${key} AND t.value ${sqlOp} ${this.bind(String(value))}`);
      }
      case "data":
        return this.owners(tables.data, "d", `d.ref ${sqlOp} ${this.bind(String(value))}`);
      default:
        return `${this.column(field, at)} ${sqlOp} ${this.bind(String(value))}`;
    }
  }

  private like(field: Field, pattern: string, at: number): string {
    const { tables, dialect } = this;
    const op = dialect.like;
    switch (field.scope) {
      case "metrics":
        throw this.fail(at, "like matches text; metrics are numbers");
      case "params": {
        const source = dialect.paramSource(this.kind, this.probe ?? this.tables.id);
        const owner = source.owner === undefined ? "" : `${source.owner} AND `;
        return `EXISTS (SELECT 1 FROM ${source.from} WHERE ${owner}p.key = ${this.bind(field.key)} AND ${source.text} ${op} ${this.bind(pattern)}${this.fence})`;
      }
      case "tags": {
        const key = `t.key = ${this.bind(field.key)}`;
        return this.owners(tables.tags, "t", `${key} AND t.value ${op} ${this.bind(pattern)}`);
      }
      case "data":
        return this.owners(tables.data, "d", `d.ref ${op} ${this.bind(pattern)}`);
      default:
        return `${this.column(field, at)} ${op} ${this.bind(pattern)}`;
    }
  }

  private condition(node: Condition): string {
    switch (node.type) {
      case "compare":
        return this.compare(node.field, node.op, node.value, node.column);
      case "like": {
        const sql = this.like(node.field, node.pattern, node.column);
        return node.negated ? `NOT (${sql})` : sql;
      }
      case "in": {
        const sql = node.values
          .map((value) => this.compare(node.field, "=", value, node.column))
          .join(" OR ");
        return node.negated ? `NOT (${sql})` : `(${sql})`;
      }
      case "and":
      case "or":
        return `(${this.condition(node.left)} ${node.type.toUpperCase()} ${this.condition(node.right)})`;
      case "not":
        return `NOT (${this.condition(node.inner)})`;
    }
  }

  /**
   * The SQL values a key sorts by (a param sorts by two: numbers first by value, then strings), or only the
   * `only`-th of them.
   */
  sortExpressions(key: OrderKey, only?: number): SortExpression[] {
    const { field, descending } = key;
    const { tables } = this;
    switch (field.scope) {
      case "metrics": {
        const { table, owner } = tables.metrics;
        const sql = `(SELECT m.value FROM ${table} m WHERE m.${owner} = ${tables.id} AND m.key = ${this.bind(field.key)})`;
        return [{ sql, type: "number", descending }];
      }
      case "tags": {
        const { table, owner } = tables.tags;
        const sql = `(SELECT t.value FROM ${table} t WHERE t.${owner} = ${tables.id} AND t.key = ${this.bind(field.key)})`;
        return [{ sql, type: "text", descending }];
      }
      case "params": {
        const source = this.dialect.paramSource(this.kind, this.tables.id);
        const owner = source.owner === undefined ? "" : `${source.owner} AND `;
        const types = (["number", "text"] as const).filter((_, n) => only === undefined || n === only);
        return types.map((type) => ({
          sql: `(SELECT ${source[type]} FROM ${source.from} WHERE ${owner}p.key = ${this.bind(field.key)})`,
          type,
          descending,
        }));
      }
      case "data":
        throw this.fail(
          1,
          "order by data is not supported; order by a metric, param, tag, name, version or created_at",
        );
      default:
        return [{ sql: this.column(field, 1), type: "text", descending }];
    }
  }
}

/** The `n`-th sort expression of an order, written (and its values bound) alone. */
function sortExpressionAt(w: StatementWriter, keys: OrderKey[], n: number): SortExpression {
  let rest = n;
  for (const key of keys) {
    const width = key.field.scope === "params" ? 2 : 1;
    if (rest < width) return w.sortExpressions(key, rest)[0] as SortExpression;
    rest -= width;
  }
  throw new Error(`no sort expression ${n}`);
}

/** Every field a filter names. */
function conditionFields(node: Condition | undefined): Field[] {
  if (node === undefined) return [];
  switch (node.type) {
    case "and":
    case "or":
      return [...conditionFields(node.left), ...conditionFields(node.right)];
    case "not":
      return conditionFields(node.inner);
    default:
      return [node.field];
  }
}

/** The top-level conjuncts of a filter: conditions every hit satisfies. */
function conjuncts(node: Condition | undefined): Condition[] {
  if (node === undefined) return [];
  return node.type === "and" ? [...conjuncts(node.left), ...conjuncts(node.right)] : [node];
}

const sameField = (a: Field, b: Field): boolean =>
  a.scope === b.scope && ("key" in a ? "key" in b && a.key === b.key : true);

function indexedOrder(kind: SearchKind, key: OrderKey): IndexedOrder | undefined {
  const tables = TABLES[kind];
  const { field, descending } = key;
  switch (field.scope) {
    case "metrics":
    case "tags": {
      const part = tables[field.scope];
      const type = field.scope === "metrics" ? "number" : "text";
      return { field, ...part, value: "value", key: field.key, nullable: true, type, descending };
    }
    case "created_at":
      return { field, ...tables.created, key: undefined, nullable: false, type: "text", descending };
    default:
      return undefined;
  }
}

/** The order's description kept in a cursor: a cursor works only for the order it was made with. */
function orderFingerprint(kind: SearchKind, keys: OrderKey[]): string {
  const words = keys.map(({ field, descending }) => {
    const name = "key" in field ? `${field.scope}.${JSON.stringify(field.key)}` : field.scope;
    return `${name} ${descending ? "desc" : "asc"}`;
  });
  return `${kind}: ${words.join(", ")}`;
}

export function compileSearch(query: SearchQuery, options: CompileOptions): CompiledSearch {
  const { kind, dialect } = options;
  const tables = TABLES[kind];
  const writer = (probe?: string, owner?: string): StatementWriter =>
    new StatementWriter(query, kind, dialect, probe, owner);

  const keys: OrderKey[] =
    query.orderBy.length > 0 ? query.orderBy : [{ field: { scope: "created_at" }, descending: true }];
  // Ties go by id, in the direction of the first key.
  const descending = keys[0]?.descending ?? true;
  const dir = descending ? "DESC" : "ASC";
  const after = descending ? "<" : ">";
  const order = orderFingerprint(kind, keys);
  // Compiled once up front so a bad filter or order fails before any statement runs.
  const probe = writer();
  probe.where();
  const types = keys.flatMap((key) => probe.sortExpressions(key));

  const limit = options.limit ?? query.limit ?? DEFAULT_SEARCH_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_SEARCH_LIMIT) {
    throw invalid(`limit must be between 1 and ${MAX_SEARCH_LIMIT}`);
  }
  const want = limit + 1;
  const cursor = options.cursor === undefined ? undefined : decodeCursor(options.cursor, order, types.length);
  if (cursor !== undefined) checkCursorTypes(cursor, types, tables.idType);

  // Every hit in the whole order, filter first; a keyset condition starts it after the cursor's row. Hits are
  // found, sorted and cut to the page as bare (sort values, id) — from the parts' narrow indexes where the
  // filter and order allow — and only the page's rows are then joined to what a hit shows: a filter matching
  // 10,000 rows would otherwise join all 10,000 before the sort kept 51.
  const sorted = ((): Statement => {
    const w = writer();
    const select = keys.flatMap((key) => w.sortExpressions(key));
    const columns = select.map((e, n) => `${e.sql} AS sort_${n}`).join(", ");
    const filters: string[] = [];
    const filter = w.where();
    if (filter !== undefined) filters.push(filter);
    if (cursor !== undefined) {
      filters.push(keysetAfter(w, (n) => sortExpressionAt(w, keys, n), cursor, tables.id, after));
    }
    const whereSql = filters.length > 0 ? ` WHERE ${filters.join(" AND ")}` : "";
    // NULLS LAST on both: a hit without the key sorts after those with it, whichever the direction.
    const orderSql = (prefix: string) =>
      select
        .map((e, n) => `${prefix}sort_${n} ${e.descending ? "DESC" : "ASC"} NULLS LAST`)
        .concat(`${prefix}sort_id ${dir}`)
        .join(", ");
    const fields = [...conditionFields(query.where), ...keys.map((key) => key.field)];
    const joins = fields.some((field) => tables.joined.includes(field.scope)) ? ` ${tables.joins}` : "";
    const sortColumns = select.map((_, n) => `h.sort_${n}`).join(", ");
    return {
      sql: `WITH h AS (SELECT ${columns}, ${tables.id} AS sort_id FROM ${tables.table}${joins}${whereSql} ORDER BY ${orderSql("")} LIMIT ${want}) SELECT ${tables.select}, ${sortColumns}, h.sort_id FROM h JOIN ${tables.table} ON ${tables.id} = h.sort_id ${tables.joins} ORDER BY ${orderSql("h.")}`,
      params: w.params,
    };
  })();

  const first = keys.length === 1 && keys[0] !== undefined ? indexedOrder(kind, keys[0]) : undefined;
  const base = { kind, limit, order, budget: SCAN_BUDGET, sorted };
  if (first === undefined)
    return { ...base, scan: undefined, scanned: undefined, walk: undefined, missing: undefined };

  const where = conjuncts(query.where);
  const budget = where.length === 0 ? want : SCAN_BUDGET;
  // A filter on the sort key itself ("metrics.f1 > 0.9 order by metrics.f1") bounds the scan's range: the walk
  // then starts and ends where the hits are, instead of stepping over every row outside it.
  const bounds = where.flatMap((c) =>
    c.type === "compare" &&
    sameField(c.field, first.field) &&
    ORDERINGS.has(c.op) &&
    (first.type === "text" || (typeof c.value === "number" && !Number.isNaN(c.value)))
      ? [{ op: c.op, value: first.type === "text" ? String(c.value) : c.value }]
      : [],
  );
  const lastValue = cursor?.values[0];

  const x = `x.${first.value}`;
  // Which of the sort key's index entries `x` a walk visits: the key's, with a value, after the cursor's.
  const candidateConditions = (w: StatementWriter): string => {
    const conditions: string[] = [];
    if (first.key !== undefined) conditions.push(`x.key = ${w.bind(first.key)}`);
    conditions.push(`${x} IS NOT NULL`);
    for (const bound of bounds) conditions.push(`${x} ${bound.op} ${w.bind(bound.value)}`);
    if (cursor !== undefined && lastValue !== null && lastValue !== undefined) {
      // Written so that the first part is a range on the index: (value, owner) after (last value, last id).
      conditions.push(
        `${x} ${after}= ${w.bind(lastValue)}`,
        `(${x} ${after} ${w.bind(lastValue)} OR x.${first.owner} ${after} ${w.bind(cursor.id)})`,
      );
    }
    return conditions.join(" AND ");
  };
  // The sort key's index entries in order, after the cursor's, at most `limitTo` of them.
  const candidates = (w: StatementWriter, limitTo: number): string => {
    return `SELECT x.${first.owner} AS cid, ${x} AS cval FROM ${first.table} x WHERE ${candidateConditions(w)} ORDER BY ${x} ${dir}, x.${first.owner} ${dir} LIMIT ${limitTo}`;
  };

  // A cursor in the rows lacking the key has nothing left to scan.
  const scanning = cursor === undefined || lastValue !== null;
  const scan = ((): Statement | undefined => {
    if (!scanning) return undefined;
    const w = writer("c.cid");
    const from = candidates(w, budget);
    const filter = w.where();
    return {
      sql: `WITH c AS (${from}) SELECT ${tables.select}, c.cval AS sort_0, c.cid AS sort_id FROM c JOIN ${tables.table} ON ${tables.id} = c.cid ${tables.joins}${filter === undefined ? "" : ` WHERE ${filter}`} ORDER BY c.cval ${dir}, c.cid ${dir} LIMIT ${want}`,
      params: w.params,
    };
  })();
  // The narrow filter's plan when the order is indexed: the same walk, unbudgeted, with the filter written as
  // sets (`owner IN (SELECT …)`) matched against the walked index's own owner column. `IS TRUE` keeps each set a
  // subplan that the database builds once and probes per entry (a hash on PostgreSQL, an ephemeral index on
  // SQLite) rather than a join it may plan from the set's side; the walk then stops at the page, and no hit is
  // looked up by id just to learn its sort value — what makes `sorted` cost a lookup per hit (10,000 for a
  // tag on 1% of a million versions).
  const walk = ((): Statement | undefined => {
    if (!scanning || where.length === 0) return undefined;
    const w = writer(undefined, `x.${first.owner}`);
    const range = candidateConditions(w);
    const filter = w.where();
    return {
      sql: `SELECT ${tables.select}, ${x} AS sort_0, x.${first.owner} AS sort_id FROM ${first.table} x JOIN ${tables.table} ON ${tables.id} = x.${first.owner} ${tables.joins} WHERE ${range} AND (${filter}) IS TRUE ORDER BY ${x} ${dir}, x.${first.owner} ${dir} LIMIT ${want}`,
      params: w.params,
    };
  })();
  const scanned = ((): Statement | undefined => {
    if (!scanning || budget === want) return undefined;
    const w = writer();
    return { sql: `SELECT count(*) AS n FROM (${candidates(w, budget)}) t`, params: w.params };
  })();

  // A bound on the sort key means every hit has it: nothing can be missing.
  const missing = ((): Statement | undefined => {
    if (!first.nullable || bounds.length > 0) return undefined;
    const w = writer();
    const filters = [
      `NOT EXISTS (SELECT 1 FROM ${first.table} x WHERE x.${first.owner} = ${tables.id} AND x.key = ${w.bind(first.key ?? null)} AND x.${first.value} IS NOT NULL)`,
    ];
    const filter = w.where();
    if (filter !== undefined) filters.push(filter);
    if (cursor !== undefined && lastValue === null)
      filters.push(`${tables.id} ${after} ${w.bind(cursor.id)}`);
    return {
      sql: `SELECT ${tables.select}, NULL AS sort_0, ${tables.id} AS sort_id FROM ${tables.table} ${tables.joins} WHERE ${filters.join(" AND ")} ORDER BY ${tables.id} ${dir} LIMIT ${want}`,
      params: w.params,
    };
  })();

  return { ...base, budget, scan, scanned, walk, missing };
}

/**
 * Rows after the cursor's in the order of `expressions`, then id: for some n, equal on the first n values and
 * after on the next. Null values sort last (NULLS LAST), so after a null comes only "null, and after on the
 * next". `expression(n)` writes the n-th sort expression afresh for each use, so each use binds its own values.
 */
function keysetAfter(
  w: StatementWriter,
  expression: (n: number) => SortExpression,
  cursor: Cursor,
  id: string,
  idAfter: "<" | ">",
): string {
  const { values } = cursor;
  const equal = (e: SortExpression, value: SortValue): string =>
    value === null ? `${e.sql} IS NULL` : `${e.sql} = ${w.bind(value)}`;
  const alternatives: string[] = [];
  for (let n = 0; n <= values.length; n++) {
    const value = values[n] ?? null;
    if (n < values.length && value === null) continue;
    // Written left to right, so the placeholders are bound in the order they appear.
    const parts = values.slice(0, n).map((v, i) => equal(expression(i), v));
    if (n === values.length) {
      parts.push(`${id} ${idAfter} ${w.bind(cursor.id)}`);
    } else {
      const e = expression(n);
      const before = `${e.sql} ${e.descending ? "<" : ">"} ${w.bind(value)}`;
      parts.push(`(${before} OR ${expression(n).sql} IS NULL)`);
    }
    alternatives.push(`(${parts.join(" AND ")})`);
  }
  return `(${alternatives.join(" OR ")})`;
}

/** A tampered cursor whose values are not of the order's types is refused, not compared as something else. */
function checkCursorTypes(cursor: Cursor, types: SortExpression[], idType: "number" | "text"): void {
  const fits = cursor.values.every((value, n) => {
    const type = types[n]?.type;
    return value === null || (type === "number" ? typeof value === "number" : typeof value === "string");
  });
  if (!fits || typeof cursor.id !== (idType === "number" ? "number" : "string")) {
    throw invalid("this cursor is not one a search returned", {
      hint: "pass the nextCursor of the previous page",
    });
  }
}
