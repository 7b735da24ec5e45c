/**
 * @module Just enough of the WebAssembly binary format to write one small module by hand: LEB128 numbers,
 * sections, and the opcodes the gear kernel uses. Emitting bytes at load time keeps the build free of any
 * WebAssembly toolchain and the package free of binary blobs.
 */

export type Bytes = number[];

export const I32 = 0x7f;
export const I64 = 0x7e;
/** Block type of a `block`/`loop`/`if` that leaves nothing on the stack. */
export const VOID = 0x40;

/** Opcodes (WebAssembly core spec, §5.4). */
export const op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i64Load: 0x29,
  i32Load8U: 0x2d,
  i32Store: 0x36,
  i64Store: 0x37,
  i32Const: 0x41,
  i64Const: 0x42,
  i32LtU: 0x49,
  i32GeU: 0x4f,
  i64LtU: 0x54,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Shl: 0x74,
  i64Add: 0x7c,
  i64Shl: 0x86,
} as const;

export function uleb(value: number): Bytes {
  const out: Bytes = [];
  let rest = value >>> 0;
  do {
    const low = rest & 0x7f;
    rest >>>= 7;
    out.push(rest === 0 ? low : low | 0x80);
  } while (rest !== 0);
  return out;
}

export function sleb(value: bigint): Bytes {
  const out: Bytes = [];
  let rest = BigInt.asIntN(64, value);
  for (;;) {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    const signClear = (low & 0x40) === 0;
    if ((rest === 0n && signClear) || (rest === -1n && !signClear)) {
      out.push(low);
      return out;
    }
    out.push(low | 0x80);
  }
}

export const vec = (items: Bytes[]): Bytes => [...uleb(items.length), ...items.flat()];
const name = (text: string): Bytes => vec([...new TextEncoder().encode(text)].map((b) => [b]));

export const local = {
  get: (index: number): Bytes => [op.localGet, ...uleb(index)],
  set: (index: number): Bytes => [op.localSet, ...uleb(index)],
  tee: (index: number): Bytes => [op.localTee, ...uleb(index)],
};
export const i32Const = (value: number): Bytes => [op.i32Const, ...sleb(BigInt(value))];
export const i64Const = (value: bigint): Bytes => [op.i64Const, ...sleb(value)];
/** A memory access at a constant address (`offset`), with natural alignment `align` (log2 bytes). */
export const mem = (opcode: number, align: number, offset = 0): Bytes => [opcode, align, ...uleb(offset)];

export interface FunctionSpec {
  params: number[];
  results: number[];
  /** Extra locals, numbered after the params, as [count, type] runs. */
  locals: Array<[number, number]>;
  body: Bytes[];
  exportAs: string;
}

/** One module: memory imported as `env.memory`, and the given functions, each exported under its name. */
export function wasmModule(functions: FunctionSpec[]): Uint8Array {
  const section = (id: number, content: Bytes): Bytes => [id, ...uleb(content.length), ...content];
  const types = functions.map((f) => [
    0x60,
    ...vec(f.params.map((t) => [t])),
    ...vec(f.results.map((t) => [t])),
  ]);
  const memoryImport = [...name("env"), ...name("memory"), 0x02, 0x00, ...uleb(1)];
  const codes = functions.map((f) => {
    const code = [...vec(f.locals.map(([count, type]) => [...uleb(count), type])), ...f.body.flat(), op.end];
    return [...uleb(code.length), ...code];
  });
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...section(2, vec([memoryImport])),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((f, i) => [...name(f.exportAs), 0x00, ...uleb(i)]))),
    ...section(10, vec(codes)),
  ]);
}
