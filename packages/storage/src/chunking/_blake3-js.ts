/**
 * @module BLAKE3 in keyed-hash mode with a 32-byte output, in plain JavaScript: the fallback for platforms
 * where the native `@napi-rs/blake-hash` binding is not installed. Written from the BLAKE3 paper (§2, §5);
 * ~10× slower than the native binding, byte-identical output.
 */

const IV = Uint32Array.of(
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
);
const MESSAGE_PERMUTATION = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
const CHUNK_START = 1;
const CHUNK_END = 2;
const PARENT = 4;
const ROOT = 8;
const KEYED_HASH = 16;
const BLOCK_LEN = 64;
const CHUNK_LEN = 1024;

/** Message word order for each of the 7 rounds (the permutation applied r times), so no copying per round. */
const SCHEDULE: number[][] = [];
for (let round = 0, order = [...Array(16).keys()]; round < 7; round++) {
  SCHEDULE.push(order);
  order = MESSAGE_PERMUTATION.map((i) => order[i]!);
}

const state = new Uint32Array(16);

function g(a: number, b: number, c: number, d: number, x: number, y: number): void {
  const s = state;
  s[a] = s[a]! + s[b]! + x;
  let t = s[d]! ^ s[a]!;
  s[d] = (t >>> 16) | (t << 16);
  s[c] = s[c]! + s[d]!;
  t = s[b]! ^ s[c]!;
  s[b] = (t >>> 12) | (t << 20);
  s[a] = s[a]! + s[b]! + y;
  t = s[d]! ^ s[a]!;
  s[d] = (t >>> 8) | (t << 24);
  s[c] = s[c]! + s[d]!;
  t = s[b]! ^ s[c]!;
  s[b] = (t >>> 7) | (t << 25);
}

/** The compression function; writes the 8-word chaining value (the first half of the output) to `out`. */
function compress(
  cv: Uint32Array,
  block: Uint32Array,
  counter: number,
  blockLen: number,
  flags: number,
  out: Uint32Array,
): void {
  state.set(cv, 0);
  state.set(IV.subarray(0, 4), 8);
  state[12] = counter;
  state[13] = Math.floor(counter / 0x100000000);
  state[14] = blockLen;
  state[15] = flags;
  for (const m of SCHEDULE) {
    g(0, 4, 8, 12, block[m[0]!]!, block[m[1]!]!);
    g(1, 5, 9, 13, block[m[2]!]!, block[m[3]!]!);
    g(2, 6, 10, 14, block[m[4]!]!, block[m[5]!]!);
    g(3, 7, 11, 15, block[m[6]!]!, block[m[7]!]!);
    g(0, 5, 10, 15, block[m[8]!]!, block[m[9]!]!);
    g(1, 6, 11, 12, block[m[10]!]!, block[m[11]!]!);
    g(2, 7, 8, 13, block[m[12]!]!, block[m[13]!]!);
    g(3, 4, 9, 14, block[m[14]!]!, block[m[15]!]!);
  }
  for (let i = 0; i < 8; i++) out[i] = state[i]! ^ state[i + 8]!;
}

export class PortableBlake3 {
  private readonly key: Uint32Array;
  private readonly stack: Uint32Array[] = [];
  private readonly cv = new Uint32Array(8);
  private readonly block = new Uint8Array(BLOCK_LEN);
  private readonly words = new Uint32Array(16);
  private readonly blockView = new DataView(this.block.buffer);
  private blockLen = 0;
  private blocksCompressed = 0;
  private chunkCounter = 0;

  constructor(key: Uint8Array) {
    if (key.length !== 32) throw new RangeError("a BLAKE3 key is 32 bytes");
    const view = new DataView(key.buffer, key.byteOffset, 32);
    this.key = Uint32Array.from({ length: 8 }, (_, i) => view.getUint32(i * 4, true));
    this.reset();
  }

  reset(): this {
    this.stack.length = 0;
    this.startChunk(0);
    return this;
  }

  update(data: Uint8Array): this {
    let at = 0;
    while (at < data.length) {
      if (this.chunkLength() === CHUNK_LEN) {
        // A full chunk is only closed once more input shows it is not the last (the last one may be the root).
        const chunkCv = new Uint32Array(8);
        this.compressBlock(CHUNK_END, chunkCv);
        this.pushChunk(chunkCv, this.chunkCounter + 1);
        this.startChunk(this.chunkCounter + 1);
      }
      if (this.blockLen === BLOCK_LEN) {
        this.compressBlock(0, this.cv);
        this.blocksCompressed++;
        this.blockLen = 0;
        this.block.fill(0);
      }
      const take = Math.min(BLOCK_LEN - this.blockLen, data.length - at);
      this.block.set(data.subarray(at, at + take), this.blockLen);
      this.blockLen += take;
      at += take;
    }
    return this;
  }

  /** The 32-byte keyed hash of everything since the last reset. */
  digest(): Uint8Array {
    const out = new Uint32Array(8);
    if (this.stack.length === 0) {
      this.compressBlock(CHUNK_END | ROOT, out);
    } else {
      this.compressBlock(CHUNK_END, out);
      for (let i = this.stack.length - 1; i >= 0; i--) {
        this.parent(this.stack[i]!, out, i === 0 ? ROOT : 0, out);
      }
    }
    const bytes = new Uint8Array(32);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < 8; i++) view.setUint32(i * 4, out[i]!, true);
    return bytes;
  }

  private chunkLength(): number {
    return this.blocksCompressed * BLOCK_LEN + this.blockLen;
  }

  private startChunk(counter: number): void {
    this.cv.set(this.key);
    this.chunkCounter = counter;
    this.blocksCompressed = 0;
    this.blockLen = 0;
    this.block.fill(0);
  }

  private compressBlock(extraFlags: number, out: Uint32Array): void {
    for (let i = 0; i < 16; i++) this.words[i] = this.blockView.getUint32(i * 4, true);
    const start = this.blocksCompressed === 0 ? CHUNK_START : 0;
    compress(this.cv, this.words, this.chunkCounter, this.blockLen, KEYED_HASH | start | extraFlags, out);
  }

  /** Merges completed subtrees: after `totalChunks` chunks, one merge per trailing zero bit. */
  private pushChunk(chunkCv: Uint32Array, totalChunks: number): void {
    let cv = chunkCv;
    for (let n = totalChunks; n % 2 === 0; n /= 2) {
      const merged = new Uint32Array(8);
      this.parent(this.stack.pop()!, cv, 0, merged);
      cv = merged;
    }
    this.stack.push(cv);
  }

  private parent(left: Uint32Array, right: Uint32Array, extraFlags: number, out: Uint32Array): void {
    const block = new Uint32Array(16);
    block.set(left, 0);
    block.set(right, 8);
    compress(this.key, block, 0, BLOCK_LEN, KEYED_HASH | PARENT | extraFlags, out);
  }
}
