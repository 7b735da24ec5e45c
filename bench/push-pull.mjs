#!/usr/bin/env node
/**
 * @module `npm run bench`: how fast `cairn push` and `cairn pull` move a large file, next to `cp` of the same
 * file on the same disk in the same run, and how long `cairn --version` takes to start (next to `node -e 0`).
 *
 * Each cairn command runs as a user runs it: a separate process on the CLI's bin script, into a fresh store.
 * Every timed phase ends with `sync`, so no contender is credited for bytes still sitting in the page cache.
 *
 * Environment: BENCH_SIZE_MB (MiB of random data, default 1024), BENCH_ROUNDS (timed rounds of cp, push and
 * pull, default 3), BENCH_STARTUP_RUNS (default 20), BENCH_DIR (where the temporary folder goes, default the
 * OS temp folder; it needs about 3.2× the size free).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import {
  closeSync,
  createReadStream,
  existsSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(REPO, "packages", "cli", "bin", "cairn.js");
const MiB = 1024 * 1024;
const MB = 1000 * 1000;
const STARTUP_GOAL_MS = 150;

function positiveInteger(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`${name} must be a whole number ≥ 1, not ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

const SIZE_MIB = positiveInteger("BENCH_SIZE_MB", 1024);
const STARTUP_RUNS = positiveInteger("BENCH_STARTUP_RUNS", 20);
const ROUNDS = positiveInteger("BENCH_ROUNDS", 3);
const SIZE = SIZE_MIB * MiB;

const seconds = (ns) => Number(ns) / 1e9;
const mbps = (bytes, s) => bytes / MB / s;
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Runs a command to completion and returns its wall time in ns; a failure ends the bench with its output. */
function timed(file, args, options = {}) {
  const start = process.hrtime.bigint();
  const result = spawnSync(file, args, { encoding: "utf8", maxBuffer: 64 * MiB, ...options });
  const elapsed = process.hrtime.bigint() - start;
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(
      `${[file, ...args].join(" ")} exited with ${result.status}:\n${result.stdout}${result.stderr}`,
    );
  }
  return { elapsed, stdout: result.stdout };
}

/** Wall time of `command` followed by `sync`: the bytes are on disk when the clock stops. */
function timedWithSync(file, args, options) {
  const run = timed(file, args, options);
  const sync = timed("sync", []);
  return { elapsed: run.elapsed + sync.elapsed, stdout: run.stdout };
}

/**
 * Flushes, then empties the page cache so reads come from the disk. Emptying needs root and a writable
 * /proc/sys (not so in most containers); when it fails the bench runs warm, and says so, rather than pretending.
 */
function dropCaches() {
  // Always flush first, untimed: dirty pages left by anything else on the machine must not be written back
  // inside the next phase's closing `sync` and charged to it.
  execFileSync("sync");
  try {
    writeFileSync("/proc/sys/vm/drop_caches", "3");
    return true;
  } catch {
    return false;
  }
}

/** Random bytes, so neither chunk dedup nor any compression can make the job smaller than its size. */
function writeRandomFile(path, size) {
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(8 * MiB);
  const fd = openSync(path, "w");
  try {
    for (let left = size; left > 0; ) {
      const piece = buffer.subarray(0, Math.min(buffer.length, left));
      randomFillSync(piece);
      hash.update(piece);
      for (let off = 0; off < piece.length; ) off += writeSync(fd, piece, off);
      left -= piece.length;
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

async function sha256File(path) {
  const hash = createHash("sha256");
  for await (const piece of createReadStream(path, { highWaterMark: 4 * MiB })) hash.update(piece);
  return hash.digest("hex");
}

function folderBytes(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath ?? entry.path, entry.name)).size;
  }
  return total;
}

function startupMs(file, args, env) {
  // One untimed run first, so the first sample does not pay for loading node and the files from disk.
  timed(file, args, { env });
  const samples = [];
  for (let i = 0; i < STARTUP_RUNS; i++) samples.push(Number(timed(file, args, { env }).elapsed) / 1e6);
  return { median: median(samples), min: Math.min(...samples) };
}

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i])))
        .join("   ")
        .trimEnd(),
    )
    .join("\n");
}

async function main() {
  if (!existsSync(join(REPO, "packages", "cli", "dist", "main.js"))) {
    throw new Error("the CLI is not built: run `npm run build` first");
  }
  const parent = process.env["BENCH_DIR"] || tmpdir();
  const free = (() => {
    const s = statfsSync(parent);
    return s.bavail * s.bsize;
  })();
  // The source, then at most two copies at once (cp's copy is gone before the store and the pulled copy).
  if (free < 3.2 * SIZE) {
    throw new Error(
      `${parent} has ${(free / MiB).toFixed(0)} MiB free; a ${SIZE_MIB} MiB bench needs about ` +
        `${Math.ceil(3.2 * SIZE_MIB)} MiB (set BENCH_DIR or a smaller BENCH_SIZE_MB)`,
    );
  }
  const dir = mkdtempSync(join(parent, "cairn-bench-"));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const onSignal = (signal) => {
    cleanup();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    const source = join(dir, "model.bin");
    // Only CAIRN_HOME: a CAIRN_URL or database setting in the caller's shell must not send 1 GB elsewhere.
    const baseEnv = { ...process.env, NO_COLOR: "1" };
    for (const key of ["CAIRN_URL", "CAIRN_TOKEN", "CAIRN_DATABASE_URL", "CAIRN_BLOB_URL", "CAIRN_HOME"]) {
      delete baseEnv[key];
    }

    console.log(`cairn bench: ${SIZE_MIB} MiB of random data in ${dir}, ${ROUNDS} round(s)`);
    const made = process.hrtime.bigint();
    const sourceSha = writeRandomFile(source, SIZE);
    console.log(`  wrote the file in ${seconds(process.hrtime.bigint() - made).toFixed(1)} s`);
    const cold = dropCaches();
    console.log(
      cold
        ? "  page cache dropped before each phase: reads come from the disk (cold)"
        : "  page cache could not be dropped (needs root and a writable /proc/sys): reads may hit memory (warm)",
    );

    // A virtual disk's speed wanders from one second to the next, so each phase runs ROUNDS times,
    // interleaved (cp, push, pull, cp, …) so a slow spell hits all three alike, and the medians are compared.
    const runs = { cp: [], push: [], pull: [] };
    let storeBytes = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // 1. The baseline: cp, then sync.
      const copy = join(dir, "copy.bin");
      dropCaches();
      runs.cp.push(seconds(timedWithSync("cp", [source, copy]).elapsed));
      const copied = statSync(copy).size;
      rmSync(copy);
      if (copied !== SIZE) throw new Error(`cp wrote ${copied} bytes, not ${SIZE}`);

      // 2. cairn push into a fresh store (created by this very command), then sync.
      const store = join(dir, `store-${round}`);
      const env = { ...baseEnv, CAIRN_HOME: store };
      dropCaches();
      const push = timedWithSync(process.execPath, [CLI, "push", "bench", source, "--json"], {
        cwd: dir,
        env,
      });
      runs.push.push(seconds(push.elapsed));
      const pushed = JSON.parse(push.stdout);
      storeBytes = folderBytes(store);

      // 3. cairn pull into a new folder, then sync.
      const pulledDir = join(dir, "pulled");
      dropCaches();
      const args = [CLI, "pull", `bench@${pushed.version}`, "-o", pulledDir, "--json"];
      runs.pull.push(seconds(timedWithSync(process.execPath, args, { cwd: dir, env }).elapsed));
      if (round === 0) {
        // Untimed: cairn verifies every chunk itself; this checks that the bench measured a whole, true copy.
        const pulledSha = await sha256File(join(pulledDir, "model.bin"));
        if (pulledSha !== sourceSha || pushed.files?.[0]?.sha256 !== sourceSha) {
          throw new Error("the pulled file differs from the pushed one");
        }
      }
      rmSync(store, { recursive: true });
      rmSync(pulledDir, { recursive: true });
    }

    // 4. Start-up: what every command pays before it does anything.
    const startEnv = { ...baseEnv, CAIRN_HOME: join(dir, "no-store") };
    const nodeStart = startupMs(process.execPath, ["-e", "0"], startEnv);
    const cairnStart = startupMs(process.execPath, [CLI, "--version"], startEnv);

    const cpS = median(runs.cp);
    const pushS = median(runs.push);
    const pullS = median(runs.pull);
    const cpRate = mbps(SIZE, cpS);
    const pushRate = mbps(SIZE, pushS);
    const pullRate = mbps(SIZE, pullS);
    const cache = cold ? "cold" : "warm";
    const range = (values) => `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)} s`;
    const row = (label, s, rate, values) => [
      label,
      `${s.toFixed(2)} s`,
      `${rate.toFixed(0)} MB/s`,
      `${(rate / cpRate).toFixed(2)}×`,
      range(values),
    ];

    console.log();
    console.log(
      table([
        [`${SIZE_MIB} MiB file, median of ${ROUNDS}`, "time", "throughput", "vs cp", "range"],
        row("cp + sync", cpS, cpRate, runs.cp),
        row("cairn push + sync", pushS, pushRate, runs.push),
        row("cairn pull + sync", pullS, pullRate, runs.pull),
      ]),
    );
    console.log(
      `  (${SIZE} bytes each; MB = 10^6 bytes; page cache ${cache}; "vs cp" = throughput ÷ cp's, above 1 is ` +
        `faster; the push includes creating its store; store on disk: ${(storeBytes / MB).toFixed(0)} MB)`,
    );
    console.log();
    console.log(
      table([
        [`start-up, ${STARTUP_RUNS} runs`, "median", "min"],
        ["node -e 0", `${nodeStart.median.toFixed(0)} ms`, `${nodeStart.min.toFixed(0)} ms`],
        ["cairn --version", `${cairnStart.median.toFixed(0)} ms`, `${cairnStart.min.toFixed(0)} ms`],
      ]),
    );
    const ok = cairnStart.median < STARTUP_GOAL_MS;
    console.log(`  goal: cairn --version under ${STARTUP_GOAL_MS} ms: ${ok ? "met" : "NOT met"}`);
    console.log();
    const round3 = (v, digits = 3) => Number(v.toFixed(digits));
    console.log(
      JSON.stringify({
        bench: "push-pull",
        size_bytes: SIZE,
        rounds: ROUNDS,
        cache,
        cp_s: round3(cpS),
        cp_mb_s: round3(cpRate, 1),
        push_s: round3(pushS),
        push_mb_s: round3(pushRate, 1),
        push_vs_cp: round3(pushRate / cpRate),
        pull_s: round3(pullS),
        pull_mb_s: round3(pullRate, 1),
        pull_vs_cp: round3(pullRate / cpRate),
        runs_s: {
          cp: runs.cp.map((v) => round3(v)),
          push: runs.push.map((v) => round3(v)),
          pull: runs.pull.map((v) => round3(v)),
        },
        store_bytes: storeBytes,
        startup_runs: STARTUP_RUNS,
        node_startup_ms: round3(nodeStart.median, 1),
        cairn_version_ms: round3(cairnStart.median, 1),
        startup_goal_met: ok,
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
      }),
    );
  } finally {
    cleanup();
  }
}

main().catch((error) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
