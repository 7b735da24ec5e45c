/**
 * @module The SQLite metadata driver.
 */
export { openSqliteMetadataStore, SqliteMetadataStore } from "./metadata-store.js";
export { SqliteChunkIndex } from "./chunk-index.js";
