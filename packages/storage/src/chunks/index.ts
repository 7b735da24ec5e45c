/**
 * @module The chunk store: content-defined chunks in packs, with its index in the metadata database.
 */
export {
  ChunkStore,
  type ChunkStoreOptions,
  PACK_PREFIX,
  type PendingChunk,
  packKey,
  type SessionChunksReport,
  sessionOfPack,
} from "./chunk-store.js";
export {
  collectGarbage,
  type DamagedFile,
  type GcOptions,
  type GcReport,
  rebuildChunkIndex,
  type VerifyReport,
  verifyStore,
} from "./maintenance.js";
export { readPackTable } from "./pack-format.js";
