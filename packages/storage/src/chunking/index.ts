/**
 * @module Content-defined chunking as the Hugging Face Xet spec defines it (gear hash, chunks of 8–128 KiB,
 * 64 KiB on average, each named by BLAKE3 keyed with Xet's data key): the chunk store's view of a file.
 */

export { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, TARGET_CHUNK_SIZE } from "@cairn/core";
export { chunkHash, createChunkHasher, usesNativeBlake3 } from "./_blake3.js";
export { ArrivingChunks, type CheckedChunks } from "./arriving-chunks.js";
export type { Chunk, ChunkerOptions, ChunkWithData } from "./chunker.js";
export { Chunker, chunkBuffer } from "./chunker.js";
export { FileSource, fileSource } from "./file-source.js";
export type { ChunkedFile, ChunkStreamOptions, ChunkStreamSource } from "./stream.js";
export { chunkStream, prepareToChunk } from "./stream.js";
