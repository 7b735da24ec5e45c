/**
 * @module Finds chunk boundaries in a byte stream fed in pieces of any size: the same bytes give the same
 * cuts however they are split, because the gear state carries from one piece to the next.
 */

import { type GearKernel, type GearState, initialGearState, jsGearKernel } from "./_gear-kernel.js";
import { createWasmGearKernel } from "./_gear-wasm.js";

// The WebAssembly kernel reads its state and cuts through host-order typed arrays, so it is used only where
// the host order is WebAssembly's (little-endian, i.e. every platform Node ships for but s390x).
const littleEndian = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
let shared: GearKernel | undefined;

/** One kernel per thread: it holds no stream state, so finders take turns with it. */
function kernel(): GearKernel {
  if (shared === undefined) {
    try {
      shared = littleEndian ? createWasmGearKernel() : jsGearKernel;
    } catch {
      shared = jsGearKernel; // e.g. `node --jitless`, which has no WebAssembly
    }
  }
  return shared;
}

export class BoundaryFinder {
  private state: GearState = initialGearState();
  private readonly kernel: GearKernel;

  constructor(options: { portable?: boolean } = {}) {
    this.kernel = options.portable ? jsGearKernel : kernel();
  }

  /** Cuts that fall inside `data`, as positions in it just past each chunk's last byte, in order. */
  push(data: Uint8Array): number[] {
    const cuts: number[] = [];
    this.kernel.findCuts(data, this.state, cuts);
    return cuts;
  }

  /** Bytes of the chunk still open (they end in a cut later, or form the last chunk at the end). */
  get pending(): number {
    return this.state.length;
  }

  reset(): void {
    this.state = initialGearState();
  }
}
