/**
 * @module @cairn/storage — the drivers behind core's store interfaces, and the embedded store that wires them.
 */

// API token secrets: minted here, stored only hashed.
export { hashToken, mintToken } from "./auth/index.js";
// Content-defined chunking (the Xet spec's), for clients that chunk before uploading.
export {
  ArrivingChunks,
  type CheckedChunks,
  type Chunk,
  type ChunkedFile,
  Chunker,
  type ChunkerOptions,
  type ChunkStreamOptions,
  type ChunkStreamSource,
  type ChunkWithData,
  chunkBuffer,
  chunkHash,
  chunkStream,
  createChunkHasher,
  type FileSource,
  fileSource,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
  prepareToChunk,
  TARGET_CHUNK_SIZE,
} from "./chunking/index.js";
// The content store (file bytes by sha256, as deduplicated chunks).
export {
  ChunkStore,
  type ChunkStoreOptions,
  collectGarbage,
  type DamagedFile,
  type GcOptions,
  type GcReport,
  PACK_PREFIX,
  type PendingChunk,
  packKey,
  readPackTable,
  rebuildChunkIndex,
  type SessionChunksReport,
  sessionOfPack,
  type VerifyReport,
  verifyStore,
} from "./chunks/index.js";
export type { EmbeddedStore } from "./embedded.js";
// The embedded store: SQLite + a blob folder under one home.
export { EMBEDDED_BLOBS, EMBEDDED_DATABASE, openEmbeddedStore } from "./embedded.js";
// Blob drivers.
export { FsBlobStore, openFsBlobStore } from "./fs/index.js";
// `cairn migrate`: a whole registry copied to another store, then verified.
export {
  type MigrateOptions,
  type MigrateProgress,
  type MigrateReport,
  migrateRegistry,
} from "./migrate/migrate.js";
export { REGISTRY_TABLES, type RegistryTables } from "./migrate/tables.js";
// Any store a configuration names (PostgreSQL, S3, or the embedded defaults).
export {
  openStore,
  STORE_VARIABLES,
  type Store,
  type StoreConfig,
  storeConfigFromEnv,
} from "./open-store.js";
// Metadata drivers.
export {
  openPostgresMetadataStore,
  PostgresChunkIndex,
  PostgresMetadataStore,
  type PostgresStoreOptions,
} from "./postgres/index.js";
// The S3 driver itself is `@cairn/storage/s3`, apart so that importing this package never loads the AWS SDK.
export {
  parseS3Location,
  S3_DESTINATION_VARIABLES,
  S3_VARIABLES,
  type S3Credentials,
  type S3Location,
  type S3Settings,
} from "./s3/config.js";
export {
  openSqliteMetadataStore,
  SqliteChunkIndex,
  SqliteMetadataStore,
  SqliteTrackingStore,
} from "./sqlite/index.js";
export { thisMachine } from "./this-machine.js";
// `cairn verify`: one version or the whole store, the same embedded and behind the server.
export { verifyRegistry } from "./verify.js";
