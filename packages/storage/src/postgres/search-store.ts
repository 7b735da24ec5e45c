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
      // A narrow filter's walk probes each of its sets as a hash built once (core's `walk`). PostgreSQL builds
      // that hash only if the set fits in hash memory (work_mem × hash_mem_multiplier), else it scans the
      // whole set again for every row walked — minutes instead of milliseconds. The walk is taken for filters
      // matching 0.4–5% of the rows, so at the default 4 MB a set overflows once a kind passes ~1.5M rows;
      // 64 MB (for this read only) holds sets of ~2M rows, a table of ~40M.
      await sql.exec("SET LOCAL work_mem = '64MB'");
      // Afresh inside: a transaction that is run again starts its steps again.
      const steps = searchSteps(request, postgresDialect);
      let step = steps.next();
      while (!step.done) step = steps.next(await sql.rows<SearchRow>(step.value.sql, step.value.params));
      return step.value;
    });
  }
}
