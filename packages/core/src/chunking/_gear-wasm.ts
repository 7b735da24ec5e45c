/**
 * @module The gear boundary kernel as a hand-written WebAssembly function. JavaScript has no 64-bit integer
 * arithmetic outside BigInt, while WebAssembly's `i64` compiles to one `lea` per byte for `(h << 1) + T[b]`:
 * ~3.9 GB/s on one core, copying included (bench/chunking.mjs).
 */

import type { GearKernel, GearState } from "./_gear-kernel.js";
import { GEAR_TABLE } from "./_gear-table.js";
import { type Bytes, I32, I64, i32Const, i64Const, local, mem, op, VOID, wasmModule } from "./_wasm.js";
import { copyBytes } from "./copy-bytes.js";
import { MAX_CHUNK_SIZE, SKIP_BYTES } from "./params.js";

// Memory layout (one 64 KiB page of fixed data, then the input window).
const TABLE_AT = 0; // 256 × i64
const HASH_AT = 2048; // i64: gear state carried between calls
const LENGTH_AT = 2056; // i32: bytes in the chunk being cut
const CUTS_AT = 4096; // i32 × up to 1024: cut positions found by one call
const INPUT_AT = 65536;
/**
 * Bytes copied in and scanned per call. 256 KiB stays in L2 between the copy and the scan, and a window holds
 * at most 256 KiB / SKIP_BYTES + 1 = 33 cuts, far below the 1024 slots.
 */
const WINDOW = 256 * 1024;
const PAGES = (INPUT_AT + WINDOW) / 65536;
const UNROLL = 8;

// Locals of `scan(length)`: param 0 is the input length.
const LEN = 0;
const POS = 1;
const END = 2;
const LIMIT = 3;
const START = 4;
const CUTS = 5;
const CHUNK = 6;
const HASH = 7;

const min = (a: Bytes, b: Bytes): Bytes => [...a, ...b, ...a, ...b, op.i32LtU, op.select];

/** `h = (h << 1) + T[*pos]; pos += 1; push (h < 2^48)` — one byte of gear hash and its boundary test. */
const step: Bytes = [
  ...local.get(HASH),
  ...i64Const(1n),
  op.i64Shl,
  ...local.get(POS),
  ...mem(op.i32Load8U, 0),
  ...i32Const(3),
  op.i32Shl,
  ...mem(op.i64Load, 3, TABLE_AT),
  op.i64Add,
  ...local.tee(HASH),
  ...i64Const(1n << 48n),
  op.i64LtU,
  ...local.get(POS),
  ...i32Const(1),
  op.i32Add,
  ...local.set(POS),
];

/**
 * scan(length) → number of cuts. Runs the Xet chunking state machine over `length` bytes at INPUT_AT,
 * starting from (and leaving) the state at HASH_AT/LENGTH_AT, and writes each cut (a position just past the
 * last byte of a chunk, relative to INPUT_AT) to CUTS_AT. Labels are plain br depths; comments name them.
 */
const scanBody: Bytes[] = [
  i32Const(INPUT_AT),
  local.set(POS),
  local.get(POS),
  local.get(LEN),
  [op.i32Add],
  local.set(END),
  i32Const(0),
  mem(op.i64Load, 3, HASH_AT),
  local.set(HASH),
  i32Const(0),
  mem(op.i32Load, 2, LENGTH_AT),
  local.set(CHUNK),
  [op.block, VOID], // $exit
  [op.loop, VOID], // $chunk
  // The first SKIP_BYTES of a chunk can never end it, so they are not hashed (the hash starts from 0).
  local.get(CHUNK),
  i32Const(SKIP_BYTES),
  [op.i32LtU, op.if, VOID],
  i32Const(SKIP_BYTES),
  local.get(CHUNK),
  [op.i32Sub],
  local.set(START),
  min(local.get(START), [...local.get(END), ...local.get(POS), op.i32Sub]),
  local.set(START),
  local.get(POS),
  local.get(START),
  [op.i32Add],
  local.set(POS),
  local.get(CHUNK),
  local.get(START),
  [op.i32Add],
  local.set(CHUNK),
  [op.end],
  // Scan up to the end of input or to where the chunk reaches MAX_CHUNK_SIZE, whichever is first.
  min(
    [...local.get(POS), ...i32Const(MAX_CHUNK_SIZE), ...local.get(CHUNK), op.i32Sub, op.i32Add],
    local.get(END),
  ),
  local.set(LIMIT),
  local.get(POS),
  local.set(START),
  [op.block, VOID], // $cut
  [op.block, VOID], // $scanned
  [op.block, VOID], // $fastDone
  [op.loop, VOID], // $fast: UNROLL bytes per turn while that many remain
  local.get(LIMIT),
  local.get(POS),
  [op.i32Sub],
  i32Const(UNROLL),
  [op.i32LtU, op.brIf, 1],
  ...Array.from({ length: UNROLL }, () => [...step, op.brIf, 3]),
  [op.br, 0, op.end, op.end],
  [op.loop, VOID], // $slow: the rest, byte by byte
  local.get(POS),
  local.get(LIMIT),
  [op.i32GeU, op.brIf, 1],
  step,
  [op.brIf, 2, op.br, 0, op.end],
  [op.end], // $scanned: no match up to LIMIT
  local.get(CHUNK),
  local.get(POS),
  local.get(START),
  [op.i32Sub, op.i32Add],
  local.tee(CHUNK),
  i32Const(MAX_CHUNK_SIZE),
  [op.i32GeU, op.brIf, 0], // a full-size chunk is cut here
  [op.br, 2], // otherwise all input is consumed
  [op.end], // $cut
  local.get(CUTS),
  i32Const(2),
  [op.i32Shl],
  local.get(POS),
  i32Const(INPUT_AT),
  [op.i32Sub],
  mem(op.i32Store, 2, CUTS_AT),
  local.get(CUTS),
  i32Const(1),
  [op.i32Add],
  local.set(CUTS),
  i32Const(0),
  local.set(CHUNK),
  i64Const(0n),
  local.set(HASH),
  [op.br, 0],
  [op.end, op.end], // $chunk, $exit
  i32Const(0),
  local.get(HASH),
  mem(op.i64Store, 3, HASH_AT),
  i32Const(0),
  local.get(CHUNK),
  mem(op.i32Store, 2, LENGTH_AT),
  local.get(CUTS),
];

/** The slice of the WebAssembly JS API used here (TypeScript's lib has it only with the DOM types). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum: number }) => { buffer: ArrayBuffer };
}

/** The host's WebAssembly, or undefined where it is disabled (`node --jitless`). */
export const webAssembly = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: object | undefined;

/** A kernel with its own memory; compiling happens once per thread, instantiating once per kernel. */
export function createWasmGearKernel(): GearKernel {
  if (!webAssembly) throw new Error("WebAssembly is not available");
  compiled ??= new webAssembly.Module(
    wasmModule([
      {
        params: [I32],
        results: [I32],
        locals: [
          [6, I32],
          [1, I64],
        ],
        body: scanBody,
        exportAs: "scan",
      },
    ]),
  );
  const memory = new webAssembly.Memory({ initial: PAGES, maximum: PAGES });
  const instance = new webAssembly.Instance(compiled, { env: { memory } });
  const scan = instance.exports["scan"] as (length: number) => number;
  const bytes = new Uint8Array(memory.buffer);
  const words = new Uint32Array(memory.buffer);
  const table = new DataView(memory.buffer, TABLE_AT, 256 * 8);
  for (const [i, word] of GEAR_TABLE.entries()) table.setBigUint64(i * 8, word, true);

  return {
    findCuts(data: Uint8Array, state: GearState, cuts: number[]): void {
      for (let at = 0; at < data.length; at += WINDOW) {
        const piece = data.subarray(at, at + WINDOW);
        words[HASH_AT / 4] = state.hashLow;
        words[HASH_AT / 4 + 1] = state.hashHigh;
        words[LENGTH_AT / 4] = state.length;
        copyBytes(bytes, INPUT_AT, piece);
        const found = scan(piece.length);
        for (let k = 0; k < found; k++) cuts.push(at + words[CUTS_AT / 4 + k]!);
        state.hashLow = words[HASH_AT / 4]!;
        state.hashHigh = words[HASH_AT / 4 + 1]!;
        state.length = words[LENGTH_AT / 4]!;
      }
    },
  };
}
