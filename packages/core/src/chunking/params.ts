/**
 * @module The constants of the Hugging Face Xet chunking spec (huggingface.co/docs/xet/chunking): chunk size
 * bounds, the gear boundary mask and the BLAKE3 key chunks are named with. Changing any of them changes every
 * chunk boundary or name, so they are fixed here, never options.
 */

/** A chunk is cut, on average, every this many bytes past the minimum. */
export const TARGET_CHUNK_SIZE = 64 * 1024;
/** No cut is considered before a chunk holds this many bytes (hash window skips aside, see SKIP_BYTES). */
export const MIN_CHUNK_SIZE = TARGET_CHUNK_SIZE / 8;
/** A chunk is cut here if the gear hash has not matched earlier. */
export const MAX_CHUNK_SIZE = TARGET_CHUNK_SIZE * 2;
/** The gear hash sees the last 64 bytes (older bytes have been shifted out of the 64-bit state). */
export const HASH_WINDOW = 64;
/**
 * Bytes after each cut that are never fed to the gear hash. The reference implementation starts hashing
 * `MIN - WINDOW - 1` bytes in, so a cut may come a few bytes before MIN_CHUNK_SIZE; we match it exactly.
 */
export const SKIP_BYTES = MIN_CHUNK_SIZE - HASH_WINDOW - 1;
/** A cut happens where the hash is below 2^48, i.e. `(h & 0xffff000000000000) == 0`. */
export const MATCH_LIMIT_HIGH_WORD = 0x10000;

/** The key for BLAKE3 keyed hashing of chunk bytes (Xet's `DATA_KEY`). */
// biome-ignore format: 32 key bytes read best as two rows, as in the spec
export const CHUNK_KEY: Uint8Array = Uint8Array.of(
  102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28,
  157, 228, 33, 16, 155, 235, 43, 88, 180, 208, 176, 75, 147, 173, 242, 41,
);
