/**
 * @module @cairn/storage — the drivers behind core's store interfaces, and the embedded store that wires them.
 */

// Content stores (file bytes by sha256).
export { contentKey, WholeFileContentStore } from "./content/index.js";
export type { EmbeddedStore } from "./embedded.js";
// The embedded store: SQLite + a blob folder under one home.
export { EMBEDDED_BLOBS, EMBEDDED_DATABASE, openEmbeddedStore } from "./embedded.js";
// Blob drivers.
export { FsBlobStore, openFsBlobStore } from "./fs/index.js";
// Metadata drivers.
export { openSqliteMetadataStore, SqliteMetadataStore } from "./sqlite/index.js";
