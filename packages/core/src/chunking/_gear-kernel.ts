/**
 * @module The gear boundary kernel's contract, and a portable pure-JavaScript kernel for hosts without
 * WebAssembly (e.g. `node --jitless`). Both run the same state machine, so a finder may use either.
 */

import { GEAR_TABLE } from "./_gear-table.js";
import { HASH_WINDOW, MATCH_LIMIT_HIGH_WORD, MAX_CHUNK_SIZE, SKIP_BYTES } from "./params.js";

/** Where a finder is between calls: the 64-bit gear hash as two words, and the bytes in the open chunk. */
export interface GearState {
  hashLow: number;
  hashHigh: number;
  length: number;
}

export const initialGearState = (): GearState => ({ hashLow: 0, hashHigh: 0, length: 0 });

export interface GearKernel {
  /** Appends to `cuts` each position in `data` just past the last byte of a chunk; updates `state`. */
  findCuts(data: Uint8Array, state: GearState, cuts: number[]): void;
}

const tableLow = Uint32Array.from(GEAR_TABLE, (word) => Number(word & 0xffffffffn));
const tableHigh = Uint32Array.from(GEAR_TABLE, (word) => Number(word >> 32n));

/** One byte of gear hash, `h = (h << 1) + T[b]`, on two 32-bit halves: the low word's carry goes into the high. */
function roll(hash: { low: number; high: number }, byte: number): void {
  const sum = ((hash.low << 1) >>> 0) + tableLow[byte]!;
  hash.high = (((hash.high << 1) | (hash.low >>> 31)) + tableHigh[byte]! + (sum > 0xffffffff ? 1 : 0)) >>> 0;
  hash.low = sum >>> 0;
}

/** The kernel on two 32-bit halves: ~5× slower than WebAssembly, identical output. */
export const jsGearKernel: GearKernel = {
  findCuts(data: Uint8Array, state: GearState, cuts: number[]): void {
    const hash = { low: state.hashLow, high: state.hashHigh };
    let length = state.length;
    let pos = 0;
    const end = data.length;
    while (pos < end) {
      if (length < SKIP_BYTES) {
        const advance = Math.min(SKIP_BYTES - length, end - pos);
        pos += advance;
        length += advance;
      }
      const limit = Math.min(end, pos + MAX_CHUNK_SIZE - length);
      const start = pos;
      let matched = false;
      while (pos < limit) {
        roll(hash, data[pos++]!);
        if (hash.high < MATCH_LIMIT_HIGH_WORD) {
          matched = true;
          break;
        }
      }
      length += pos - start;
      if (matched || length >= MAX_CHUNK_SIZE) {
        cuts.push(pos);
        length = 0;
        hash.low = 0;
        hash.high = 0;
      }
    }
    state.hashLow = hash.low;
    state.hashHigh = hash.high;
    state.length = length;
  },
};

/**
 * Whether a chunk with these bytes, started at a cut, may end where it does: it is full-size, or the gear hash
 * matches at its last byte. Costs 64 bytes of hashing, not the chunk's: the guided chunker checks it before
 * trusting a chunk of an earlier version (see ChunkGuide).
 */
export function couldEndChunk(chunk: Uint8Array): boolean {
  if (chunk.length <= SKIP_BYTES || chunk.length > MAX_CHUNK_SIZE) return false;
  if (chunk.length === MAX_CHUNK_SIZE) return true;
  // The hash sees only the last HASH_WINDOW bytes, so starting there (from 0) gives the scan's value at the
  // last byte (only there: the bytes before have fewer behind them); a chunk shorter than SKIP_BYTES +
  // HASH_WINDOW is hashed from SKIP_BYTES, as the scan does.
  const hash = { low: 0, high: 0 };
  for (let pos = Math.max(SKIP_BYTES, chunk.length - HASH_WINDOW); pos < chunk.length; pos++)
    roll(hash, chunk[pos]!);
  return hash.high < MATCH_LIMIT_HIGH_WORD;
}
