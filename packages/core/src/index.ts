/**
 * @module @cairn/core — the domain and the store interfaces. Imports nothing of ours and does no I/O.
 */
export { aliasTargetStack, planRollback, type RollbackPlan } from "./aliases.js";
export {
  ACTION_ROLES,
  type Action,
  ANONYMOUS_ACTOR,
  type AuthContext,
  assertAuthorized,
  authorize,
  checkRole,
  checkSecretHash,
  checkTokenName,
  type Decision,
  isAction,
  isRole,
  isTokenShaped,
  protectedAliasDenied,
  ROLES,
  type Role,
  requiredRole,
  TOKEN_PREFIX,
} from "./auth.js";
export {
  BoundaryFinder,
  CHUNK_FRAMES_TYPE,
  CHUNK_KEY,
  type Chunk,
  Chunker,
  type ChunkerOptions,
  type ChunkHasher,
  type ChunkWithData,
  chunkBuffer,
  copyBytes,
  createPortableChunkHasher,
  FRAME_HEADER_SIZE,
  type FramedChunk,
  type FramedParts,
  FrameReader,
  frameHeader,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
  SpareBuffers,
  sameChunks,
  TARGET_CHUNK_SIZE,
  TRANSFER_LIMITS,
  toHex,
} from "./chunking/index.js";
export { type CodeSummary, diffVersions, flattenParams, type MetricDelta, type VersionDiff } from "./diff.js";
export {
  CairnError,
  conflict,
  type ErrorCode,
  type ErrorOptions,
  forbidden,
  httpStatusOf,
  integrity,
  invalid,
  isCairnError,
  notFound,
  policyDenied,
  unauthorized,
} from "./errors.js";
export {
  DEFAULT_REWRITE_BELOW,
  liveSessions,
  type Machine,
  type PackPlan,
  planPacks,
  SESSION_TIMEOUT_MS,
} from "./gc.js";
export * from "./lineage/index.js";
export {
  alignCurves,
  type CurveStep,
  canonicalJson,
  checkMetricKey,
  checkMetricPoints,
  decodeHistoryCursor,
  encodeHistoryCursor,
  formatMetric,
  type JsonMetric,
  lastPoints,
  MAX_BATCH_POINTS,
  type MetricPointInput,
  type MetricSeries,
  metricFromJson,
  metricToJson,
  pointsFromSeries,
  seriesFromPoints,
} from "./metrics.js";
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
export { normaliseFilePath, pullTargetPath } from "./paths.js";
export type * from "./ports/index.js";
export { exactRef, parseRef, type Ref, type RefSelector, resolveRef } from "./refs.js";
export { type PublishInput, Registry, type RegistryOptions } from "./registry.js";
export {
  checkDataPath,
  type DataInput,
  defaultDataPath,
  type PartialOwner,
  parseDataInput,
  partialFolderName,
  placeData,
  planReproduction,
  type ReproducePlan,
  stalePartialFolders,
} from "./reproduce.js";
export {
  checkExperimentName,
  checkRunId,
  checkRunStatus,
  DEFAULT_EXPERIMENT,
  diffRuns,
  MAX_HISTORY_PAGE,
  newRunId,
  type PromoteInput,
  type RunLog,
  RunTracker,
  type RunTrackerOptions,
  type RunView,
  runFromView,
  type StartRunInput,
  trackingOf,
  viewRun,
} from "./runs.js";
export * from "./search/index.js";
export * from "./types.js";
export { type DamagedFileView, type VerifyView, verifyVersion, viewStoreVerify } from "./verify.js";
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
  type GcReport,
  type StatsView,
  type VersionView,
  viewStats,
  viewVersion,
} from "./views.js";
