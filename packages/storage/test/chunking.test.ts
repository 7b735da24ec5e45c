import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createChunker, finalize, getChunks, nextBlock } from "@huggingface/xetchunk-wasm";
import { describe, expect, it } from "vitest";
// Internal: to compare the portable BLAKE3 with the native one directly.
import { createChunkHasher } from "../dist/chunking/_blake3.js";
import { PIECE, updateFromMemory } from "../dist/chunking/_from-memory.js";
// The built output, as the CLI loads it (worker threads resolve their script next to it).
import {
  type Chunk,
  Chunker,
  type ChunkStreamOptions,
  chunkBuffer,
  chunkHash,
  chunkStream,
  fileSource,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
} from "../dist/chunking/index.js";

interface Named {
  offset: number;
  length: number;
  hash: string;
}

/** The Xet reference package's chunks, with hashes as plain hex of the digest bytes (as cairn names them). */
function reference(bytes: Uint8Array): Named[] {
  let offset = 0;
  return getChunks(bytes).map((chunk) => {
    const named = { offset, length: chunk.length, hash: Buffer.from(chunk.hash).toString("hex") };
    offset += chunk.length;
    return named;
  });
}

const named = (chunks: Chunk[]): Named[] =>
  chunks.map(({ offset, length, hash }) => ({ offset, length, hash }));

/** Deterministic pseudo-random bytes (xorshift32), so a failure reproduces. */
function randomBytes(length: number, seed = 1): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, length);
}

/** Splits `bytes` into pieces of pseudo-random sizes in [0, maxPiece]; empty pieces included on purpose. */
function pieces(bytes: Uint8Array, maxPiece: number, seed = 7): Uint8Array[] {
  const out: Uint8Array[] = [];
  let x = seed;
  for (let at = 0; at < bytes.length; ) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const size = (x >>> 0) % (maxPiece + 1);
    out.push(bytes.subarray(at, at + size));
    at += size;
  }
  return out;
}

async function* slowly(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) {
    await Promise.resolve();
    yield part;
  }
}

async function drain(
  source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  options?: ChunkStreamOptions,
): Promise<{ chunks: Array<Named & { data: Uint8Array }>; size: number; sha256: string }> {
  const file = chunkStream(source, options);
  const chunks: Array<Named & { data: Uint8Array }> = [];
  for await (const chunk of file) {
    chunks.push({ offset: chunk.offset, length: chunk.length, hash: chunk.hash, data: chunk.data });
  }
  return { chunks, size: file.size, sha256: file.sha256 };
}

// Buffer.compare, not toEqual: vitest's deep equality walks typed arrays element by element.
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;
const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** The chunking module, for scripts run in a process of their own. */
const CHUNKING = JSON.stringify(new URL("../dist/chunking/index.js", import.meta.url).href);

/** Runs an ES module script in a new node process (with `flags`), given 20 s to exit on its own. */
const nodeScript = (script: string, flags: string[] = []) =>
  spawnSync(process.execPath, [...flags, "--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 20_000,
  });
const MiB = 1024 * 1024;

/** A safetensors-like file: 8-byte header length, a JSON header, then tensors (random, zeros, small ints). */
function safetensorsLike(): Uint8Array {
  const tensors = [randomBytes(3 * MiB, 11), new Uint8Array(700_000), randomBytes(2 * MiB + 12_345, 12)];
  const smallInts = new Uint8Array(900_000).map((_, i) => (i * 7) % 5);
  tensors.push(smallInts);
  let offset = 0;
  const entries = tensors.map((t, i) => {
    const entry = [
      `layer.${i}.weight`,
      { dtype: "F16", shape: [t.length / 2], data_offsets: [offset, offset + t.length] },
    ];
    offset += t.length;
    return entry;
  });
  const header = new TextEncoder().encode(
    JSON.stringify({ __metadata__: { format: "pt" }, ...Object.fromEntries(entries) }),
  );
  const file = new Uint8Array(8 + header.length + offset);
  new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
  file.set(header, 8);
  let at = 8 + header.length;
  for (const t of tensors) {
    file.set(t, at);
    at += t.length;
  }
  return file;
}

describe("chunk boundaries and names match the Xet reference (@huggingface/xetchunk-wasm)", () => {
  const sizes = [
    0, 1, 100, 8127, 8128, 8191, 8192, 8193, 65536, 131071, 131072, 131073, 1_000_003, 10_000_019,
  ];
  for (const size of sizes) {
    it(`random data of ${size} bytes`, () => {
      const bytes = randomBytes(size, size + 1);
      const chunks = chunkBuffer(bytes);
      expect(named(chunks)).toEqual(reference(bytes));
      expect(chunks.every((c) => sameBytes(c.data, bytes.subarray(c.offset, c.offset + c.length)))).toBe(
        true,
      );
    });
  }

  it("all zeros: the gear hash never matches, so every chunk is cut at the maximum size", () => {
    const bytes = new Uint8Array(3 * MiB + 5);
    const chunks = chunkBuffer(bytes);
    expect(named(chunks)).toEqual(reference(bytes));
    expect(chunks.slice(0, -1).every((c) => c.length === MAX_CHUNK_SIZE)).toBe(true);
  });

  it("repeated patterns (a short text, a 4 KiB block, a 100 KiB block)", () => {
    const text = new TextEncoder().encode("the quick brown fox jumps over the lazy dog. ".repeat(60_000));
    const block4k = randomBytes(4096, 3);
    const block100k = randomBytes(100 * 1024, 4);
    for (const [unit, times] of [
      [block4k, 700],
      [block100k, 30],
    ] as const) {
      const bytes = new Uint8Array(unit.length * times);
      for (let i = 0; i < times; i++) bytes.set(unit, i * unit.length);
      expect(named(chunkBuffer(bytes))).toEqual(reference(bytes));
    }
    expect(named(chunkBuffer(text))).toEqual(reference(text));
  });

  it("a safetensors-like file: JSON header, random tensors, zeros, low-entropy values", () => {
    const bytes = safetensorsLike();
    expect(named(chunkBuffer(bytes))).toEqual(reference(bytes));
  });

  it("the reference's own streaming API agrees too (so the oracle is consistent with itself)", () => {
    const bytes = randomBytes(2 * MiB + 3, 5);
    const chunker = createChunker();
    const chunks = pieces(bytes, 300_000).flatMap((piece) => nextBlock(chunker, piece));
    const last = finalize(chunker);
    if (last) chunks.push(last);
    expect(chunks.map((c) => c.length)).toEqual(reference(bytes).map((c) => c.length));
  });

  it("chunkHash names any chunk's bytes as the reference does", () => {
    const bytes = randomBytes(2 * MiB, 9);
    for (const chunk of reference(bytes)) {
      expect(chunkHash(bytes.subarray(chunk.offset, chunk.offset + chunk.length))).toBe(chunk.hash);
    }
    // Below MIN - 64 bytes a buffer is always one chunk, which covers BLAKE3's 1 KiB chunk edges.
    for (const size of [1, 63, 64, 65, 1023, 1024, 1025, 2048, 3073, 8127]) {
      const small = bytes.subarray(0, size);
      expect(chunkHash(small)).toBe(reference(small)[0]!.hash);
    }
  });
});

describe("the portable BLAKE3 (used where the native binding cannot load)", () => {
  it("agrees with the native binding on lengths across its tree shapes", () => {
    const native = createChunkHasher();
    const portable = createChunkHasher({ portable: true });
    const bytes = randomBytes(140_000, 17);
    for (const size of [
      0, 1, 64, 65, 1024, 1025, 2047, 2048, 2049, 3072, 4097, 8192, 31_745, 65_536, 131_073,
    ]) {
      const input = bytes.subarray(0, size);
      native.update(input);
      // Fed in uneven pieces, so block and chunk edges fall mid-piece.
      for (let at = 0; at < size; at += 777) portable.update(input.subarray(at, at + 777));
      expect(portable.digest()).toBe(native.digest());
    }
  });
});

describe("chunk sizes", () => {
  it("stay within bounds: at most 128 KiB, and at least 8 KiB less the 64-byte hash window", () => {
    const chunks = chunkBuffer(randomBytes(20 * MiB, 21));
    const lengths = chunks.slice(0, -1).map((c) => c.length);
    // The reference starts hashing MIN - 65 bytes into a chunk, so a cut can land up to 64 bytes before MIN.
    expect(Math.min(...lengths)).toBeGreaterThanOrEqual(MIN_CHUNK_SIZE - 64);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(MAX_CHUNK_SIZE);
    const mean = lengths.reduce((a, b) => a + b, 0) / lengths.length;
    expect(mean).toBeGreaterThan(50 * 1024);
    expect(mean).toBeLessThan(80 * 1024);
  });
});

describe("streaming: the same bytes in any pieces give the same chunks", () => {
  const bytes = randomBytes(6 * MiB + 77, 31);
  const expected = reference(bytes);

  for (const maxPiece of [1, 100, 9000, 70_000, 300_000, 3 * MiB]) {
    it(`pieces of up to ${maxPiece} bytes`, () => {
      const input = maxPiece === 1 ? bytes.subarray(0, 300_000) : bytes;
      const want = maxPiece === 1 ? reference(input) : expected;
      const chunker = new Chunker();
      const chunks = pieces(input, maxPiece).flatMap((piece) => chunker.push(piece));
      chunks.push(...chunker.finish());
      expect(named(chunks)).toEqual(want);
    });
  }

  it("a finished chunker starts a new stream", () => {
    const chunker = new Chunker();
    for (let round = 0; round < 2; round++) {
      const chunks = [...chunker.push(bytes.subarray(0, MiB)), ...chunker.finish()];
      expect(named(chunks)).toEqual(reference(bytes.subarray(0, MiB)));
    }
  });

  it("the portable paths (pure-JS gear and BLAKE3) give the same chunks", () => {
    const input = bytes.subarray(0, MiB + 5);
    const chunker = new Chunker({ portable: true });
    const chunks = pieces(input, 50_000).flatMap((piece) => chunker.push(piece));
    chunks.push(...chunker.finish());
    expect(named(chunks)).toEqual(reference(input));
    expect(named(chunkBuffer(new Uint8Array(400_000), { portable: true }))).toEqual(
      reference(new Uint8Array(400_000)),
    );
  });
});

describe("hashing bytes a piece at a time, each brought into the cache first", () => {
  it("gives the sha256 of all the bytes, whatever their length against the piece size", () => {
    const bytes = randomBytes(3 * PIECE + 5, 81);
    for (const length of [0, 1, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 5]) {
      const input = bytes.subarray(0, length);
      const hash = createHash("sha256");
      updateFromMemory(hash, input);
      expect(hash.digest("hex"), `${length} bytes`).toBe(sha256(input));
    }
  });
});

describe("chunkStream: the pipelined path", () => {
  const bytes = randomBytes(12 * MiB + 4321, 41);
  const expected = named(chunkBuffer(bytes));

  it("yields the same chunks, bytes, size and sha256 as the synchronous path, through worker threads", async () => {
    const { chunks, size, sha256: digest } = await drain(slowly(pieces(bytes, 2 * MiB)));
    expect(chunks.map(({ data: _, ...rest }) => rest)).toEqual(expected);
    expect(chunks.every((c) => sameBytes(c.data, bytes.subarray(c.offset, c.offset + c.length)))).toBe(true);
    expect(size).toBe(bytes.length);
    expect(digest).toBe(sha256(bytes));
  });

  for (const options of [
    { blockSize: 1000 },
    { blockSize: 100_000, readAhead: 1 },
    { blockSize: 131_072, readAhead: 2, transient: true },
    { workers: false },
    { workers: false, blockSize: 50_000, transient: true },
    // Without the whole-file hash the worker names the chunks, across its pieces and blocks.
    { sha256: false },
    { sha256: false, blockSize: 1000 },
    { sha256: false, blockSize: 300_000, transient: true },
  ] satisfies ChunkStreamOptions[]) {
    it(`gives the same chunks with ${JSON.stringify(options)}`, async () => {
      const input = options.blockSize === 1000 ? bytes.subarray(0, 2 * MiB) : bytes;
      const file = chunkStream(pieces(input, 200_000), options);
      const chunks: Named[] = [];
      for await (const chunk of file) {
        // Transient bytes are only valid now, so check them now.
        expect(sameBytes(chunk.data, input.subarray(chunk.offset, chunk.offset + chunk.length))).toBe(true);
        chunks.push({ offset: chunk.offset, length: chunk.length, hash: chunk.hash });
      }
      expect(chunks).toEqual(input === bytes ? expected : named(chunkBuffer(input)));
      if (options.sha256 === false) expect(() => file.sha256).toThrow(/not computed/);
      else expect(file.sha256).toBe(sha256(input));
    });
  }

  it("chunks keep their bytes after later chunks are read (owned mode)", async () => {
    const { chunks } = await drain(pieces(bytes, MiB), { blockSize: 256 * 1024 });
    expect(chunks.every((c) => sameBytes(c.data, bytes.subarray(c.offset, c.offset + c.length)))).toBe(true);
  });

  it("copies a source's piece before asking for the next, so a source may reuse one buffer", async () => {
    function* reusing(): Generator<Uint8Array> {
      const buffer = new Uint8Array(64 * 1024);
      for (let at = 0; at < bytes.length; at += buffer.length) {
        const piece = bytes.subarray(at, at + buffer.length);
        buffer.set(piece);
        yield buffer.subarray(0, piece.length);
        buffer.fill(0xee); // scribble: a stream still holding the piece would see this
      }
    }
    const { chunks, sha256: digest } = await drain(reusing(), { blockSize: MiB });
    expect(chunks.map(({ data: _, ...rest }) => rest)).toEqual(expected);
    expect(digest).toBe(sha256(bytes));
  });

  it("handles an empty source and a source smaller than one block (no worker threads)", async () => {
    const empty = await drain([]);
    expect(empty).toEqual({ chunks: [], size: 0, sha256: sha256(new Uint8Array(0)) });
    const small = bytes.subarray(0, 5000);
    const one = await drain([small]);
    expect(one.chunks.map(({ data: _, ...rest }) => rest)).toEqual(reference(small));
    expect(one.sha256).toBe(sha256(small));
  });

  it("says when the sha256 is not known yet, or was not asked for", async () => {
    const file = chunkStream([bytes.subarray(0, 10)]);
    expect(() => file.sha256).toThrow(/once every chunk has been read/);
    const unhashed = chunkStream([bytes.subarray(0, 10)], { sha256: false });
    for await (const _ of unhashed);
    expect(() => unhashed.sha256).toThrow(/not computed/);
    expect(unhashed.size).toBe(10);
  });

  it("a consumer may stop early; the next stream is unaffected", async () => {
    let closed = false;
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        yield* pieces(bytes, MiB);
      } finally {
        closed = true;
      }
    }
    let seen = 0;
    for await (const _ of chunkStream(source(), { blockSize: MiB })) if (++seen === 20) break;
    expect(closed).toBe(true);
    const again = await drain(pieces(bytes, MiB), { blockSize: MiB });
    expect(again.chunks.map(({ data: _, ...rest }) => rest)).toEqual(expected);
    // Also when the worker names the chunks: one left mid-chunk does not leak into the next stream's names.
    seen = 0;
    for await (const _ of chunkStream(pieces(bytes, MiB), { blockSize: MiB, sha256: false })) {
      if (++seen === 20) break;
    }
    const named: Named[] = [];
    for await (const { offset, length, hash } of chunkStream(pieces(bytes, MiB), {
      blockSize: MiB,
      sha256: false,
    })) {
      named.push({ offset, length, hash });
    }
    expect(named).toEqual(expected);
  });

  it("an iteration abandoned mid-file (never finished, never returned) does not keep the process alive", () => {
    const run = nodeScript(`
      import { chunkStream } from ${CHUNKING};
      const big = new Uint8Array(64 * 1024 * 1024).map((_, i) => (i * 2654435761) >>> 24);
      const it = chunkStream([big], { blockSize: 1024 * 1024 })[Symbol.asyncIterator]();
      await it.next();
      console.log("left behind");`);
    expect(run.stdout.trim(), run.stderr).toBe("left behind");
    expect(run.status).toBe(0); // not null: the process exited on its own, before the timeout
  });

  it("a worker started ahead of a file that is then never chunked does not keep the process alive", () => {
    const run = nodeScript(`
      import { fileSource, prepareToChunk } from ${CHUNKING};
      prepareToChunk(fileSource(${JSON.stringify(fileURLToPath(import.meta.url))}));
      console.log("ready");`);
    expect(run.stdout.trim(), run.stderr).toBe("ready");
    expect(run.status).toBe(0); // not null: the process exited on its own, before the timeout
  });

  it("chunks with its workers in a process started with V8 options (node --trace-gc, --max-semi-space-size)", () => {
    const script = `
      import { createHash } from "node:crypto";
      import { chunkStream } from ${CHUNKING};
      const big = new Uint8Array(8 * 1024 * 1024).map((_, i) => (i * 2654435761) >>> 24);
      const file = chunkStream([big], { blockSize: 1024 * 1024 });
      let n = 0;
      for await (const _ of file) n++;
      console.log(n > 1 && file.sha256 === createHash("sha256").update(big).digest("hex") ? "chunked" : "wrong");`;
    const run = nodeScript(script, ["--trace-gc", "--max-semi-space-size=32"]);
    expect(run.status, run.stderr).toBe(0);
    // --trace-gc prints its lines on stdout too, also after the script's own (a collection at exit).
    const lines = run.stdout.split("\n").map((line) => line.trim());
    expect(lines).toContain("chunked");
    expect(lines).not.toContain("wrong");
  });

  it("a failing source fails the iteration with its error", async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield bytes.subarray(0, 9 * MiB);
      throw new Error("disk on fire");
    }
    await expect(drain(failing(), { blockSize: MiB })).rejects.toThrow("disk on fire");
    const again = await drain([bytes], { blockSize: 2 * MiB });
    expect(again.sha256).toBe(sha256(bytes));
  });

  it("chunks a file read straight into its blocks as it chunks the same bytes in memory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cairn-file-source-"));
    try {
      for (const [name, input] of [
        ["empty", bytes.subarray(0, 0)],
        ["smaller than a block", bytes.subarray(0, 5000)],
        ["an exact number of blocks", bytes.subarray(0, 4 * MiB)],
        ["many blocks and a bit", bytes],
      ] as const) {
        const path = join(dir, name);
        await writeFile(path, input);
        const { chunks, size, sha256: digest } = await drain(fileSource(path), { blockSize: MiB });
        expect(
          chunks.map(({ data: _, ...rest }) => rest),
          name,
        ).toEqual(named(chunkBuffer(input)));
        expect(chunks.every((c) => sameBytes(c.data, input.subarray(c.offset, c.offset + c.length)))).toBe(
          true,
        );
        expect(size).toBe(input.length);
        expect(digest).toBe(sha256(input));
        // Iterated as plain pieces (by any other consumer), it is the file's bytes.
        const read: Uint8Array[] = [];
        for await (const piece of fileSource(path)) read.push(piece);
        expect(sameBytes(Buffer.concat(read), input)).toBe(true);
      }
      await expect(drain(fileSource(join(dir, "absent")))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("hands out a block's chunks as one batch, each batch's bytes valid until the next is asked for", async () => {
    const file = chunkStream(pieces(bytes, MiB), { blockSize: MiB, transient: true });
    const seen: Named[] = [];
    let batches = 0;
    for await (const batch of file.batches()) {
      batches++;
      for (const chunk of batch) {
        expect(sameBytes(chunk.data, bytes.subarray(chunk.offset, chunk.offset + chunk.length))).toBe(true);
        seen.push({ offset: chunk.offset, length: chunk.length, hash: chunk.hash });
      }
    }
    expect(seen).toEqual(expected);
    expect(batches).toBe(Math.ceil(bytes.length / MiB) + 1); // one per block, and the end's
    expect(file.sha256).toBe(sha256(bytes));
    expect(() => file.batches()).toThrow(/only once/);
  });

  it("rejects nonsense options", () => {
    expect(() => chunkStream([], { blockSize: 0 })).toThrow(/blockSize/);
    expect(() => chunkStream([], { readAhead: 1.5 })).toThrow(/readAhead/);
  });
});

describe("chunking along an earlier version's chunk list gives exactly the chunks of chunking without it", () => {
  const v1 = Buffer.concat([safetensorsLike(), randomBytes(3 * MiB + 777, 51), new Uint8Array(400_000)]);
  /** v1 with `edits` applied in order: each replaces `remove` bytes at `at` with `insert`. */
  const edited = (edits: Array<{ at: number; remove: number; insert: Uint8Array }>): Uint8Array => {
    let out = Buffer.from(v1);
    for (const { at, remove, insert } of edits) {
      out = Buffer.concat([out.subarray(0, at), insert, out.subarray(at + remove)]);
    }
    return out;
  };
  const previous = chunkBuffer(v1).map(({ hash, length }) => ({ hash, length }));
  const versions: Array<[string, Uint8Array]> = [
    ["the same bytes", v1],
    [
      "a grown header, rewritten regions and a removed stretch",
      edited([
        { at: 20, remove: 0, insert: randomBytes(300, 61) },
        { at: MiB, remove: 200_000, insert: randomBytes(200_000, 62) },
        { at: 4 * MiB + 5, remove: 70_000, insert: randomBytes(1, 63) },
        { at: 6 * MiB, remove: 0, insert: randomBytes(3 * MiB, 64) },
      ]),
    ],
    ["the last chunk changed", edited([{ at: v1.length - 10, remove: 10, insert: randomBytes(5000, 65) }])],
    ["a shorter file (the old one cut short)", v1.subarray(0, 5 * MiB + 3)],
    ["unrelated bytes", randomBytes(5 * MiB, 66)],
  ];

  for (const [name, v2] of versions) {
    it(`${name}: the synchronous chunker, fed in pieces of any size`, () => {
      const expected = named(chunkBuffer(v2));
      for (const maxPiece of [70_000, 300_000, 3 * MiB]) {
        const chunker = new Chunker({ previous });
        const chunks = [...pieces(v2, maxPiece).flatMap((piece) => chunker.push(piece)), ...chunker.finish()];
        expect(named(chunks), `pieces up to ${maxPiece}`).toEqual(expected);
      }
    });
  }

  it("the pipelined path (this thread cuts, the worker hashes the file), with bytes, size and sha256", async () => {
    for (const [name, v2] of versions) {
      for (const options of [{ blockSize: MiB }, { blockSize: 100_000, transient: true }, { readAhead: 1 }]) {
        const file = chunkStream(pieces(v2, 500_000), { ...options, previous });
        const chunks: Named[] = [];
        for await (const chunk of file) {
          expect(sameBytes(chunk.data, v2.subarray(chunk.offset, chunk.offset + chunk.length))).toBe(true);
          chunks.push({ offset: chunk.offset, length: chunk.length, hash: chunk.hash });
        }
        expect(chunks, `${name} ${JSON.stringify(options)}`).toEqual(named(chunkBuffer(v2)));
        expect(file.size).toBe(v2.length);
        expect(file.sha256).toBe(sha256(v2));
      }
    }
  });

  it("the pipelined path reading a file (several reads under way at once)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cairn-follow-"));
    try {
      for (const [name, v2] of versions) {
        const path = join(dir, "v2.bin");
        await writeFile(path, v2);
        for (const options of [{ blockSize: MiB }, { blockSize: MiB, readAhead: 1 }]) {
          const file = chunkStream(fileSource(path), { ...options, previous });
          const chunks: Named[] = [];
          for await (const chunk of file) {
            expect(sameBytes(chunk.data, v2.subarray(chunk.offset, chunk.offset + chunk.length))).toBe(true);
            chunks.push({ offset: chunk.offset, length: chunk.length, hash: chunk.hash });
          }
          expect(chunks, `${name} ${JSON.stringify(options)}`).toEqual(named(chunkBuffer(v2)));
          expect(file.sha256).toBe(sha256(v2));
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a chunk list cut some other way (fixed 100 kB pieces) still gives the chunker's own chunks", () => {
    const fixed = [];
    for (let at = 0; at < v1.length; at += 100_000) {
      const piece = v1.subarray(at, at + 100_000);
      fixed.push({ hash: chunkHash(piece), length: piece.length });
    }
    const chunker = new Chunker({ previous: fixed });
    expect(named([...chunker.push(v1), ...chunker.finish()])).toEqual(named(chunkBuffer(v1)));
  });

  it("a list with repeated chunks (runs of zeros) and a finished chunker starting the next file", () => {
    const zeros = Buffer.concat([randomBytes(MiB, 71), new Uint8Array(2 * MiB), randomBytes(MiB, 72)]);
    const longer = Buffer.concat([randomBytes(MiB, 71), new Uint8Array(3 * MiB), randomBytes(MiB, 72)]);
    const chunker = new Chunker({
      previous: chunkBuffer(zeros).map(({ hash, length }) => ({ hash, length })),
    });
    for (const bytes of [longer, zeros, longer]) {
      expect(named([...chunker.push(bytes), ...chunker.finish()])).toEqual(named(chunkBuffer(bytes)));
    }
  });
});
