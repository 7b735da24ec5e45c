/**
 * @module Messages between the main thread and its worker threads. Blocks travel as views of
 * SharedArrayBuffers, so posting one copies nothing. Every message names its stream, so a worker reused after
 * an abandoned stream cannot answer the next stream with stale results.
 */

/**
 * What a leased worker does for one stream: find chunk boundaries (a push; with the file's sha256 unless
 * `sha256` is false), or only hash a whole file (a read).
 */
export type WorkerRole = "cuts" | "sha256";

export type PipelineRequest =
  | { type: "start"; stream: number; role: WorkerRole; sha256: boolean }
  | { type: "block"; stream: number; bytes: Uint8Array }
  | { type: "end"; stream: number };

export type PipelineReply =
  /** A block is done with: the cuts in it (positions just past each chunk's last byte), if finding cuts. */
  | { type: "block"; stream: number; cuts: number[] }
  | { type: "end"; stream: number; sha256: string | undefined }
  | { type: "failed"; stream: number; message: string };
