#!/usr/bin/env node
/**
 * @module Helper of `npm run bench:store` (run by bench/store.mjs as its own process, so its buffers and worker
 * threads do not share a heap with anything else): chunk + hash throughput of cairn's chunker next to the
 * reference `@huggingface/xetchunk-wasm` `getChunks` on one random buffer, after checking that all of them
 * give the same boundaries and the same chunk hashes. Prints one JSON line.
 *
 * Timed, each BENCH_ROUNDS times, interleaved so a slow spell of the machine hits all alike (medians compared):
 *   - reference:      getChunks(buffer), hashes turned to hex (cairn's names are hex strings too)
 *   - chunkBuffer:    the exported synchronous path, one thread
 *   - chunkStream:    the exported streamed path (worker threads) fed 4 MiB pieces, as `cairn push` reads a file,
 *                     with `sha256: false`: chunk boundaries + chunk hashes only, the same work as the reference
 *   - chunkStream + sha256: the same with the whole-file sha256 `cairn push` also computes (information only)
 *
 * Environment: BENCH_CHUNK_MB (MiB of random data, default 256), BENCH_ROUNDS (default 3).
 */
import { randomFillSync } from "node:crypto";
import { getChunks } from "@huggingface/xetchunk-wasm";
import { chunkBuffer, chunkStream, usesNativeBlake3 } from "../packages/storage/dist/chunking/index.js";

const MiB = 1024 * 1024;
const size = Number(process.env.BENCH_CHUNK_MB ?? 256) * MiB;
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const PIECE = 4 * MiB; // cairn push reads files in 4 MiB pieces

const data = new Uint8Array(size);
for (let at = 0; at < size; at += 65536) randomFillSync(data, at, Math.min(65536, size - at));

function* pieces() {
  for (let at = 0; at < size; at += PIECE) yield data.subarray(at, at + PIECE);
}

const signature = (chunks) => chunks.map((c) => `${c.length}:${c.hash}`).join("\n");

async function streamed(options) {
  const file = chunkStream(pieces(), options);
  const chunks = [];
  for await (const chunk of file) chunks.push({ length: chunk.data.byteLength, hash: chunk.hash });
  return chunks;
}

const contenders = {
  reference: () =>
    getChunks(data).map((c) => ({ length: c.length, hash: Buffer.from(c.hash).toString("hex") })),
  chunkBuffer: () => chunkBuffer(data).map((c) => ({ length: c.length, hash: c.hash })),
  chunkStream: () => streamed({ sha256: false }),
  chunkStreamSha256: () => streamed({}),
};

const times = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
const same = {};
let expected;
let chunkCount = 0;
// One untimed warm-up of each (WASM compile, worker start), then the timed rounds.
for (let round = -1; round < rounds; round++) {
  for (const [name, run] of Object.entries(contenders)) {
    const start = process.hrtime.bigint();
    const chunks = await run();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (round >= 0) times[name].push(seconds);
    const sig = signature(chunks);
    if (name === "reference") {
      expected ??= sig;
      chunkCount = chunks.length;
    }
    same[name] = (same[name] ?? true) && sig === expected;
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

console.log(
  JSON.stringify({
    size_bytes: size,
    rounds,
    chunks: chunkCount,
    native_blake3: usesNativeBlake3(),
    median_s: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])),
    runs_s: times,
    identical: same,
  }),
);
