/**
 * @module The search language: `metrics.accuracy > 0.9 and tags.team = 'nlp' order by metrics.f1 desc limit 10`,
 * parsed in pure code and compiled to parameterised SQL for the metadata drivers.
 */
export {
  type CompiledSearch,
  type CompileOptions,
  compileSearch,
  DEFAULT_SEARCH_LIMIT,
  MAX_SEARCH_LIMIT,
  postgresDialect,
  SCAN_BUDGET,
  type SearchKind,
  type SqlDialect,
  type SqlValue,
  type Statement,
  sqliteDialect,
  WALK_MIN_HITS,
} from "./compile.js";
export {
  planSearch,
  type SearchHit,
  type SearchPage,
  type SearchRequest,
  type SearchRow,
  searchSteps,
} from "./page.js";
export type { Comparison, Condition, Field, Literal, OrderKey, SearchQuery } from "./parse.js";
export { parseSearch } from "./parse.js";
