/**
 * @module @cairn/core — the domain and the store interfaces. Imports nothing of ours and does no I/O.
 */
export { aliasTargetStack, planRollback, type RollbackPlan } from "./aliases.js";
export { type CodeSummary, diffVersions, flattenParams, type MetricDelta, type VersionDiff } from "./diff.js";
export {
  CairnError,
  conflict,
  type ErrorCode,
  type ErrorOptions,
  httpStatusOf,
  integrity,
  invalid,
  isCairnError,
  notFound,
  policyDenied,
} from "./errors.js";
export { DEFAULT_REWRITE_BELOW, liveSessions, type PackPlan, planPacks, SESSION_TIMEOUT_MS } from "./gc.js";
export {
  checkAliasName,
  checkArtifactName,
  checkMetrics,
  checkParams,
  checkTags,
  parseKeyValue,
  parseMetricValue,
  parseScalar,
  RESERVED_ALIASES,
} from "./names.js";
export { normaliseFilePath } from "./paths.js";
export type * from "./ports/index.js";
export { exactRef, parseRef, type Ref, type RefSelector, resolveRef } from "./refs.js";
export { type PublishInput, Registry, type RegistryOptions } from "./registry.js";
export * from "./types.js";
export {
  BUMPS,
  type Bump,
  checkVersion,
  compareVersions,
  FIRST_VERSION,
  highestVersion,
  isBump,
  nextVersion,
} from "./versions.js";
export {
  type ArtifactStatsView,
  type StatsView,
  type VersionView,
  viewStats,
  viewVersion,
} from "./views.js";
