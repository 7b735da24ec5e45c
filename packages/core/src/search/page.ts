/**
 * @module One search from request to page, the part both drivers share: parse, compile for the driver's
 * dialect, run the statements the plan needs (as a generator: the driver runs each statement it yields, inside
 * one read snapshot, and passes back its rows), and turn the rows into hits and the next page's cursor.
 */
import { invalid } from "../errors.js";
import {
  type CompiledSearch,
  compileSearch,
  type SearchKind,
  type SqlDialect,
  type Statement,
  WALK_MIN_HITS,
} from "./compile.js";
import { encodeCursor, type SortValue } from "./cursor.js";
import { parseSearch } from "./parse.js";

export interface SearchRequest {
  /** The filter, e.g. `metrics.accuracy > 0.9 and tags.team = 'nlp' order by metrics.f1 desc`. */
  query: string;
  kind: SearchKind;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export type SearchHit =
  | { kind: "version"; artifact: string; version: string }
  | { kind: "run"; id: string; name: string; experiment: string; status: string };

export interface SearchPage {
  hits: SearchHit[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export type SearchRow = Record<string, unknown>;

export function planSearch(request: SearchRequest, dialect: SqlDialect): CompiledSearch {
  if (request.kind !== "versions" && request.kind !== "runs") {
    throw invalid(`cannot search ${JSON.stringify(request.kind)}: search versions or runs`);
  }
  return compileSearch(parseSearch(request.query), {
    kind: request.kind,
    dialect,
    limit: request.limit,
    cursor: request.cursor,
  });
}

/**
 * The statements one search runs, in order: each `yield` hands the driver a statement and receives its rows;
 * the return value is the page. See CompiledSearch for the plan.
 */
export function* searchSteps(
  request: SearchRequest,
  dialect: SqlDialect,
): Generator<Statement, SearchPage, SearchRow[]> {
  const plan = planSearch(request, dialect);
  const want = plan.limit + 1;
  if (plan.scan === undefined && plan.missing === undefined) return toSearchPage(plan, yield plan.sorted);
  let rows: SearchRow[] = [];
  if (plan.scan !== undefined) {
    rows = yield plan.scan;
    if (rows.length < want && plan.scanned !== undefined) {
      const [counted] = yield plan.scanned;
      // The scan stopped at its budget, not at the end of the index: the filter is narrow. If the budget held a
      // few hits, walking on with the filter's sets built once reaches the page's end within a bounded number
      // of entries; fewer, and sorting the (few) hits is cheaper than a walk that long.
      if (Number(counted?.n) >= plan.budget) {
        if (plan.walk === undefined || rows.length < WALK_MIN_HITS)
          return toSearchPage(plan, yield plan.sorted);
        rows = yield plan.walk;
      }
    }
  }
  if (rows.length < want && plan.missing !== undefined) rows = rows.concat(yield plan.missing);
  return toSearchPage(plan, rows);
}

function toSearchPage(plan: CompiledSearch, rows: SearchRow[]): SearchPage {
  const page = rows.slice(0, plan.limit);
  const hits = page.map(
    (row): SearchHit =>
      plan.kind === "versions"
        ? { kind: "version", artifact: String(row.artifact), version: String(row.version) }
        : {
            kind: "run",
            id: String(row.id),
            name: String(row.name),
            experiment: String(row.experiment),
            status: String(row.status),
          },
  );
  const last = page.at(-1);
  if (rows.length <= plan.limit || last === undefined) return { hits, nextCursor: null };
  const values: SortValue[] = [];
  for (let n = 0; `sort_${n}` in last; n++) values.push(sortValue(last[`sort_${n}`]));
  const id = plan.kind === "versions" ? Number(last.sort_id) : String(last.sort_id);
  return { hits, nextCursor: encodeCursor({ order: plan.order, values, id }) };
}

const sortValue = (value: unknown): SortValue =>
  value === null || value === undefined || typeof value === "number" ? (value ?? null) : String(value);
