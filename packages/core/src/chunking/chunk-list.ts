/**
 * @module Chunk lists compared: a file is its chunks in order, each named by its bytes, so two files with the
 * same list are the same bytes.
 */
import type { ChunkRef } from "../ports/chunks.js";

/** Whether two chunk lists are the same chunks, of the same lengths, in the same order (so the same bytes). */
export function sameChunks(a: readonly ChunkRef[], b: readonly ChunkRef[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.hash !== b[i]!.hash || a[i]!.length !== b[i]!.length) return false;
  }
  return true;
}
