/**
 * @module Messages between `chunkStream` and its worker threads. Blocks travel as views of
 * SharedArrayBuffers, so posting one copies nothing. Every message names its stream, so a worker reused after
 * an abandoned stream cannot answer the next stream with stale results.
 */

import type { Chunk } from "./chunker.js";

/** What a leased worker does for one stream: cut and name chunks, or hash the whole file. */
export type WorkerRole = "chunks" | "sha256";

export type PipelineRequest =
  | { type: "start"; stream: number; role: WorkerRole }
  | { type: "block"; stream: number; bytes: Uint8Array }
  | { type: "end"; stream: number };

export type PipelineReply =
  | { type: "chunks"; stream: number; chunks: Chunk[] }
  | { type: "hashed"; stream: number }
  | { type: "sha256"; stream: number; hex: string }
  | { type: "failed"; stream: number; message: string };
