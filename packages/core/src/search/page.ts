/**
 * @module One search from request to page, the part both drivers share: parse, compile for the driver's
 * dialect, and turn the rows (one more than the page holds) into hits and the next page's cursor.
 */
import { invalid } from "../errors.js";
import {
  type CompiledSearch,
  compileSearch,
  encodeCursor,
  type SearchKind,
  type SqlDialect,
} from "./compile.js";
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

export function toSearchPage(
  kind: SearchKind,
  rows: Record<string, unknown>[],
  plan: CompiledSearch,
): SearchPage {
  const hits = rows.slice(0, plan.limit).map(
    (row): SearchHit =>
      kind === "versions"
        ? { kind: "version", artifact: String(row.artifact), version: String(row.version) }
        : {
            kind: "run",
            id: String(row.id),
            name: String(row.name),
            experiment: String(row.experiment),
            status: String(row.status),
          },
  );
  return { hits, nextCursor: rows.length > plan.limit ? encodeCursor(plan.offset + plan.limit) : null };
}
