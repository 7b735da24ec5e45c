/**
 * @module Fills a buffer from a file with as many reads as it takes (one read may return fewer bytes than
 * asked), stopping early only at the end of the file.
 */
import type { FileHandle } from "node:fs/promises";

/** Reads into `target` from `position` (null: where the last read stopped); returns the bytes read. */
export async function readFully(
  handle: FileHandle,
  target: Uint8Array,
  position: number | null,
): Promise<number> {
  let filled = 0;
  while (filled < target.length) {
    const at = position === null ? null : position + filled;
    const { bytesRead } = await handle.read(target, filled, target.length - filled, at);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}
