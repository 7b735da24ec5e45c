/**
 * @module Search on SQLite: runs the statements core plans, with every value bound, in one read snapshot.
 */
import {
  type SearchPage,
  type SearchRequest,
  type SearchRow,
  type SearchStore,
  searchSteps,
  sqliteDialect,
} from "@cairn/core";
import type { Connection } from "./_connection.js";

export class SqliteSearchStore implements SearchStore {
  constructor(private readonly c: Connection) {}

  async search(request: SearchRequest): Promise<SearchPage> {
    return this.c.read("cannot search", () => {
      const steps = searchSteps(request, sqliteDialect);
      // Prepared directly, not through the statement cache: each filter is its own statement.
      let step = steps.next();
      while (!step.done) {
        step = steps.next(this.c.db.prepare(step.value.sql).all(...step.value.params) as SearchRow[]);
      }
      return step.value;
    });
  }
}
