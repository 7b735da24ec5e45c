/**
 * @module Messages between the main thread and its worker threads. Blocks travel as views of
 * SharedArrayBuffers, so posting one copies nothing. Every message names its stream, so a worker reused after
 * an abandoned stream cannot answer the next stream with stale results.
 */

/**
 * What a leased worker does for one stream: find chunk boundaries (a push; with the file's sha256 unless
 * `sha256` is false, and with each chunk's name if `names`), or only hash a whole file (a read).
 */
export type WorkerRole = "cuts" | "sha256";

export type PipelineRequest =
  | { type: "start"; stream: number; role: WorkerRole; sha256: boolean; names?: boolean }
  | { type: "block"; stream: number; bytes: Uint8Array }
  /**
   * Chunks back to back in `bytes`, of these lengths: each checked against its name (keyed BLAKE3), in order,
   * and hashed into the sha256 if it matches; the first that does not stops the check.
   */
  | { type: "check"; stream: number; bytes: Uint8Array; lengths: number[]; names: string[] }
  /** The sha256 of the bytes so far, going on after (a running hash's checkpoint). */
  | { type: "mark"; stream: number }
  /** The sha256 begins again from no bytes. */
  | { type: "restart"; stream: number }
  | { type: "end"; stream: number };

export type PipelineReply =
  /**
   * A block is done with: the cuts in it (positions just past each chunk's last byte), if finding cuts, and
   * the names of the chunks they end, if naming.
   */
  | { type: "block"; stream: number; cuts: number[]; names?: string[] }
  /** The stream's end: the file's sha256, and the name of its last chunk (the bytes after the last cut). */
  | { type: "end"; stream: number; sha256: string | undefined; last?: string }
  /** The index of the first chunk whose bytes do not match its name, or -1 if all do. */
  | { type: "check"; stream: number; bad: number }
  | { type: "mark"; stream: number; sha256: string }
  | { type: "restart"; stream: number }
  | { type: "failed"; stream: number; message: string };
