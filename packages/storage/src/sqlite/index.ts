/**
 * @module The SQLite metadata driver.
 */

export { SqliteChunkIndex } from "./chunk-index.js";
export { SqliteLineageStore } from "./lineage-store.js";
export { openSqliteMetadataStore, SqliteMetadataStore } from "./metadata-store.js";
export { SqliteTrackingStore } from "./tracking-store.js";
