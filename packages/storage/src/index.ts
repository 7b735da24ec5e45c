/**
 * @module @cairn/storage — the drivers behind core's store interfaces, and the embedded store that wires them.
 */

// The content store (file bytes by sha256, as deduplicated chunks).
export {
  ChunkStore,
  type ChunkStoreOptions,
  collectGarbage,
  type DamagedFile,
  type GcOptions,
  type GcReport,
  packKey,
  readPackTable,
  rebuildChunkIndex,
  sessionOfPack,
  type VerifyReport,
  verifyStore,
} from "./chunks/index.js";
export type { EmbeddedStore } from "./embedded.js";
// The embedded store: SQLite + a blob folder under one home.
export { EMBEDDED_BLOBS, EMBEDDED_DATABASE, openEmbeddedStore } from "./embedded.js";
// Blob drivers.
export { FsBlobStore, openFsBlobStore } from "./fs/index.js";
// Metadata drivers.
export { openSqliteMetadataStore, SqliteChunkIndex, SqliteMetadataStore } from "./sqlite/index.js";
