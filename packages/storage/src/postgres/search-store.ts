/**
 * @module Search on PostgreSQL: runs the statements core plans, with every value bound, in one read snapshot.
 */
import {
  postgresDialect,
  type SearchPage,
  type SearchRequest,
  type SearchRow,
  type SearchStore,
  searchSteps,
} from "@cairn/core";
import type { Database } from "./_database.js";

export class PostgresSearchStore implements SearchStore {
  constructor(private readonly db: Database) {}

  async search(request: SearchRequest): Promise<SearchPage> {
    // Planned once before any connection is taken, so a bad filter or cursor costs no round trip.
    const planned = searchSteps(request, postgresDialect).next();
    if (planned.done) return planned.value;
    return this.db.read("cannot search", async (sql) => {
      // Afresh inside: a transaction that is run again starts its steps again.
      const steps = searchSteps(request, postgresDialect);
      let step = steps.next();
      while (!step.done) step = steps.next(await sql.rows<SearchRow>(step.value.sql, step.value.params));
      return step.value;
    });
  }
}
