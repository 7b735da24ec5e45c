/**
 * @module Content-defined chunking as the Hugging Face Xet spec defines it (gear hash, chunks of 8–128 KiB,
 * 64 KiB on average, each named by BLAKE3 keyed with Xet's data key). Pure algorithms only: every party that
 * cuts or names chunks (the chunk store, the server checking uploads, the SDK) runs this one implementation.
 */

export { BoundaryFinder } from "./_boundaries.js";
export { sameChunks } from "./chunk-list.js";
export {
  type Chunk,
  Chunker,
  type ChunkerOptions,
  type ChunkHasher,
  type ChunkWithData,
  chunkBuffer,
  createPortableChunkHasher,
  toHex,
} from "./chunker.js";
export { copyBytes } from "./copy-bytes.js";
export {
  CHUNK_FRAMES_TYPE,
  FRAME_HEADER_SIZE,
  type FramedChunk,
  type FramedParts,
  FrameReader,
  frameHeader,
  TRANSFER_LIMITS,
} from "./frames.js";
export { CHUNK_KEY, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, TARGET_CHUNK_SIZE } from "./params.js";
export { SpareBuffers } from "./spare-buffers.js";
