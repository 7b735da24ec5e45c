/**
 * @module @cairn/sdk — a typed client for a cairn registry, for Node >= 20 training and CI scripts: the REST
 * API, `push` (chunked locally, only missing chunks sent) and `pull` (only chunks missing from the local
 * cache fetched). fetch only, no native code. Errors are core's CairnError with the server's code.
 */

export { CairnError, type ErrorCode, isCairnError } from "@cairn/core";
export { ChunkCache, defaultCacheDir } from "./chunk-cache.js";
export {
  type ChunkedFile,
  type ChunkFile,
  type ChunkFileHints,
  chunkFile,
  type LocalFile,
  type NamedChunk,
} from "./chunk-file.js";
export { allPages, CairnClient, type CairnClientOptions } from "./client.js";
export { RemoteError } from "./errors.js";
export type { PullOptions, PullProgress, PullResult } from "./pull.js";
export type { PushFile, PushOptions, PushProgress, PushResult } from "./push.js";
export {
  MetricLogger,
  type MetricLoggerOptions,
  type PromoteRunOptions,
  Run,
  RunApi,
  type RunListOptions,
  type RunStatus,
  type RunSummary,
  type RunView,
  type StartRunOptions,
} from "./runs.js";
export type {
  Alias,
  AliasEvent,
  ApiToken,
  ArtifactDetail,
  ArtifactSummary,
  AuditEvent,
  CreatedToken,
  GcReport,
  Page,
  PageOptions,
  Role,
  StatsView,
  UploadSessionView,
  VerifyView,
  VersionDiff,
  VersionSummary,
  VersionView,
} from "./types.js";
