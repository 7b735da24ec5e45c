/**
 * @module Chunking a new version of a file along the chunk list of an earlier one. Where the bytes repeat the
 * earlier version, the next chunk is most likely the next known one: the chunker names the bytes it would span
 * and, if the name matches, cuts there without scanning for the boundary (the gear scan is half the CPU time of
 * chunking). A miss costs one chunk's naming; the chunker then scans, and picks the list up again at the
 * first chunk it finds in it.
 *
 * Why the cuts are the same as a scan's: a chunk's end depends only on its own bytes (the gear hash restarts at
 * every cut and sees 64 bytes; the size limits count from the chunk's start). A chunk whose BLAKE3 name matches
 * a known chunk has that chunk's bytes, so a scan from the same start ends it at the same place — provided the
 * known chunk was cut by a scan, not by the end of its file, which is why the last known chunk is never
 * guessed. `couldEndChunk` also checks each guessed end against the gear hash, so a chunk list from some
 * other split (an older client's, say) is followed only where its ends are genuine cut points.
 */

import type { ChunkRef } from "../ports/chunks.js";

export class ChunkGuide {
  /** For each known chunk's name, the index of the chunk after its first occurrence. */
  private readonly after = new Map<string, number>();
  /** Index of the chunk to guess next, or -1 when out of step with the list. */
  private expected = 0;

  constructor(private readonly known: readonly ChunkRef[]) {
    for (let i = known.length - 2; i >= 0; i--) this.after.set(known[i]!.hash, i + 1);
  }

  /** The known chunk to try at the current cut, or undefined (out of step, or only the last one is left). */
  get guess(): ChunkRef | undefined {
    return this.expected >= 0 && this.expected < this.known.length - 1
      ? this.known[this.expected]
      : undefined;
  }

  /** The guess matched: the next known chunk is the next guess. */
  advance(): void {
    this.expected += 1;
  }

  /** A chunk was found by scanning: returns whether the list has a next chunk to guess. */
  follow(hash: string): boolean {
    this.expected = this.after.get(hash) ?? -1;
    return this.guess !== undefined;
  }

  /** The guess did not match: scan until a cut chunk is found in the list. */
  lose(): void {
    this.expected = -1;
  }

  /** Back to the start, for the next file. */
  restart(): void {
    this.expected = 0;
  }
}
