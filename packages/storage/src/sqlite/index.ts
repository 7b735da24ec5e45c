/**
 * @module The SQLite metadata driver.
 */

export { SqliteChunkIndex } from "./chunk-index.js";
export { openSqliteMetadataStore, SqliteMetadataStore } from "./metadata-store.js";
