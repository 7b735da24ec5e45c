/**
 * @module Hashing bytes that are not in the CPU's cache: blocks read straight from the disk (the kernel puts
 * them in memory without passing them through the cache) and handed to a worker thread.
 *
 * SHA-256 on this CPU's SHA instructions hashes bytes already in the cache at ~1.9 GB/s, but bytes it must
 * fetch from memory at ~1 GB/s: it reads one 64-byte block at a time and waits for each, so memory's latency
 * sets its pace. Reading one byte of every cache line of a piece first costs little (the loads do not depend
 * on each other, so the CPU has many under way at once) and leaves the piece in the cache for the hash.
 * Measured here, 1 GiB in sixteen 4 MiB shared blocks, sha256 in pieces of 256 KiB: 940-960 ms as is,
 * 665-675 ms touched first; any piece from 64 KiB to 512 KiB did the same, a whole 4 MiB block 890 ms.
 * BLAKE3 (the chunk names) works on many blocks at once and was slower touched first (205 → 256 ms).
 */

/** Bytes per piece: well inside a core's cache, so a piece is still there when it is hashed. */
export const PIECE = 256 * 1024;
const CACHE_LINE = 64;
let sink = 0;

/** Reads one byte per cache line of `bytes`, so that the CPU fetches the lines into its cache. */
export function bringIntoCache(bytes: Uint8Array): void {
  let x = 0;
  for (let i = 0; i < bytes.length; i += CACHE_LINE) x ^= bytes[i]!;
  // Kept, so that the compiler cannot drop the loads as unused.
  sink ^= x;
}

/** `hash.update(bytes)`, a piece at a time, each brought into the cache first. */
export function updateFromMemory(hash: { update(data: Uint8Array): unknown }, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; at += PIECE) {
    const piece = bytes.subarray(at, at + PIECE);
    bringIntoCache(piece);
    hash.update(piece);
  }
}

/** For tests: whatever the loads read, so that they cannot be optimised away. */
export const touched = (): number => sink;
