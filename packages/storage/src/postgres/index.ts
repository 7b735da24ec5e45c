/**
 * @module The PostgreSQL metadata driver: versions, aliases, audit, tokens and the chunk index, shared by any
 * number of server processes.
 */

export { PostgresChunkIndex } from "./chunk-index.js";
export {
  openPostgresMetadataStore,
  PostgresMetadataStore,
  type PostgresStoreOptions,
} from "./metadata-store.js";
