/**
 * @module The gear boundary kernel's contract, and a portable pure-JavaScript kernel for hosts without
 * WebAssembly (e.g. `node --jitless`). Both run the same state machine, so a finder may use either.
 */

import { GEAR_TABLE } from "./_gear-table.js";
import { MATCH_LIMIT_HIGH_WORD, MAX_CHUNK_SIZE, SKIP_BYTES } from "./params.js";

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

/** The kernel on two 32-bit halves: ~5× slower than WebAssembly, identical output. */
export const jsGearKernel: GearKernel = {
  findCuts(data: Uint8Array, state: GearState, cuts: number[]): void {
    let low = state.hashLow;
    let high = state.hashHigh;
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
        const byte = data[pos++]!;
        // (h << 1) + T[b] on (high, low): the carry out of the low word goes into the high word.
        const sum = ((low << 1) >>> 0) + tableLow[byte]!;
        high = (((high << 1) | (low >>> 31)) + tableHigh[byte]! + (sum > 0xffffffff ? 1 : 0)) >>> 0;
        low = sum >>> 0;
        if (high < MATCH_LIMIT_HIGH_WORD) {
          matched = true;
          break;
        }
      }
      length += pos - start;
      if (matched || length >= MAX_CHUNK_SIZE) {
        cuts.push(pos);
        length = 0;
        low = 0;
        high = 0;
      }
    }
    state.hashLow = low;
    state.hashHigh = high;
    state.length = length;
  },
};
