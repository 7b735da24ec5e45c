/**
 * @module Search on SQLite: runs the statement core compiled, with every value bound.
 */
import {
  planSearch,
  type SearchPage,
  type SearchRequest,
  type SearchStore,
  sqliteDialect,
  toSearchPage,
} from "@cairn/core";
import type { Connection } from "./_connection.js";

export class SqliteSearchStore implements SearchStore {
  constructor(private readonly c: Connection) {}

  async search(request: SearchRequest): Promise<SearchPage> {
    const plan = planSearch(request, sqliteDialect);
    // Prepared directly, not through the statement cache: each filter is its own statement.
    return this.c.read("cannot search", () =>
      toSearchPage(
        request.kind,
        this.c.db.prepare(plan.sql).all(...plan.params) as Record<string, unknown>[],
        plan,
      ),
    );
  }
}
