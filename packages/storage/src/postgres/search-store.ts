/**
 * @module Search on PostgreSQL: runs the statement core compiled, with every value bound.
 */
import {
  planSearch,
  postgresDialect,
  type SearchPage,
  type SearchRequest,
  type SearchStore,
  toSearchPage,
} from "@cairn/core";
import type { Database } from "./_database.js";

export class PostgresSearchStore implements SearchStore {
  constructor(private readonly db: Database) {}

  async search(request: SearchRequest): Promise<SearchPage> {
    const plan = planSearch(request, postgresDialect);
    const rows = await this.db.query<Record<string, unknown>>("cannot search", plan.sql, plan.params);
    return toSearchPage(request.kind, rows, plan);
  }
}
