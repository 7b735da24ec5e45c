export type { BlobInfo, BlobStore } from "./blob.js";
export type {
  ChunkIndex,
  ChunkLocation,
  ChunkRef,
  ClaimedContent,
  ContentRecord,
  PackRecord,
  PackUsage,
  StorageStats,
  UploadSession,
} from "./chunks.js";
export type {
  ByteSource,
  ContentReadOptions,
  ContentStore,
  ContentWriteOptions,
  StoredContent,
} from "./content.js";
export type {
  AliasMove,
  AliasResolution,
  AuditQuery,
  MetadataStore,
  NewToken,
  NewVersion,
  VersionChange,
} from "./metadata.js";
export type { SearchStore } from "./search.js";
export type {
  MetricHistoryPage,
  MetricHistoryQuery,
  NewRun,
  RunBatch,
  RunQuery,
  TrackingStore,
} from "./tracking.js";
