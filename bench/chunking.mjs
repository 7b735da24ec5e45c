#!/usr/bin/env node
/**
 * @module `node bench/chunking.mjs`: how fast cairn cuts and names chunks, next to the reference
 * `@huggingface/xetchunk-wasm` on the same random buffer, after checking both give the same chunks.
 *
 * Measured (best of BENCH_ROUNDS runs each): the reference `getChunks`; cairn's boundary search alone; cairn's
 * synchronous `chunkBuffer` (boundaries + names); `chunkStream` (boundaries + names + chunk bytes handed out,
 * from a source of 1 MiB pieces) with worker threads, with and without the whole-file sha256, with transient
 * chunk bytes, and on the calling thread only. Needs a build first (`npx tsc -b`).
 *
 * Environment: BENCH_SIZE_MB (MiB of random data, default 256), BENCH_ROUNDS (default 3).
 */
import { randomFillSync } from "node:crypto";
import { availableParallelism } from "node:os";
import { getChunks } from "@huggingface/xetchunk-wasm";
import { BoundaryFinder } from "../packages/core/dist/index.js";
import { chunkBuffer, chunkStream, usesNativeBlake3 } from "../packages/storage/dist/chunking/index.js";

const MiB = 1024 * 1024;
const MB = 1000 * 1000;
const size = Number(process.env.BENCH_SIZE_MB ?? 256) * MiB;
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const PIECE = 1 * MiB; // what a file read stream hands over

const data = new Uint8Array(size);
for (let at = 0; at < size; at += 65536) randomFillSync(data, at, Math.min(65536, size - at));

function* pieces() {
  for (let at = 0; at < size; at += PIECE) yield data.subarray(at, at + PIECE);
}

/** Runs `fn` `rounds` times; returns the best time in seconds and the last result. */
async function best(fn) {
  let seconds = Number.POSITIVE_INFINITY;
  let result;
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint();
    result = await fn();
    seconds = Math.min(seconds, Number(process.hrtime.bigint() - start) / 1e9);
  }
  return { seconds, result };
}

const signature = (chunks) => chunks.map((c) => `${c.length}:${c.hash}`).join("\n");

async function streamed(options) {
  const file = chunkStream(pieces(), options);
  const chunks = [];
  for await (const chunk of file) chunks.push({ length: chunk.data.byteLength, hash: chunk.hash });
  return { chunks, sha256: options.sha256 === false ? undefined : file.sha256 };
}

console.log(
  `chunking ${size / MiB} MiB of random data, best of ${rounds}; ${availableParallelism()} cores; ` +
    `node ${process.version}; native BLAKE3: ${usesNativeBlake3()}`,
);

const reference = await best(() =>
  getChunks(data).map((c) => ({ length: c.length, hash: Buffer.from(c.hash).toString("hex") })),
);
const expected = signature(reference.result);

const rows = [["@huggingface/xetchunk-wasm getChunks", reference.seconds, true]];
const boundaries = await best(() => new BoundaryFinder().push(data));
let end = 0;
const referenceCuts = reference.result.slice(0, -1).map((c) => (end += c.length));
const cutsMatch = boundaries.result.join() === referenceCuts.join();
rows.push(["cairn boundaries only (WASM gear)", boundaries.seconds, cutsMatch]);
const sync = await best(() => chunkBuffer(data));
rows.push(["cairn chunkBuffer (sync)", sync.seconds, signature(sync.result) === expected]);
for (const [label, options] of [
  ["cairn chunkStream, workers, + sha256", {}],
  ["cairn chunkStream, workers, + sha256, transient", { transient: true }],
  ["cairn chunkStream, workers, no sha256", { sha256: false }],
  ["cairn chunkStream, one thread, + sha256", { workers: false }],
]) {
  const run = await best(() => streamed(options));
  rows.push([label, run.seconds, signature(run.result.chunks) === expected]);
}

const mbps = (seconds) => size / MB / seconds;
for (const [label, seconds, same] of rows) {
  const ratio = (reference.seconds / seconds).toFixed(2);
  console.log(
    `${label.padEnd(48)} ${mbps(seconds).toFixed(0).padStart(6)} MB/s  ${ratio.padStart(5)}×  ` +
      `${same ? "identical" : "DIFFERENT"}`,
  );
}
if (rows.some(([, , same]) => !same)) {
  console.error("error: cairn's chunks differ from the reference");
  process.exitCode = 1;
}
