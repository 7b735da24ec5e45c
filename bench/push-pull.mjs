#!/usr/bin/env node
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  benchFolder,
  CLI,
  dropCaches,
  MB,
  MiB,
  median,
  positiveInteger,
  REPO,
  seconds,
  sha256File,
  table,
  timed,
  timedWithSync,
  writeRandomFile,
} from "./_lib.mjs";

const STARTUP_GOAL_MS = 150;

const SIZE_MIB = positiveInteger("BENCH_SIZE_MB", 1024);
const STARTUP_RUNS = positiveInteger("BENCH_STARTUP_RUNS", 20);
const ROUNDS = positiveInteger("BENCH_ROUNDS", 3);
const SIZE = SIZE_MIB * MiB;

const mbps = (bytes, s) => bytes / MB / s;

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

async function main() {
  if (!existsSync(join(REPO, "packages", "cli", "dist", "main.js"))) {
    throw new Error("the CLI is not built: run `npm run build` first");
  }
  // The source, then at most two copies at once (cp's copy is gone before the store and the pulled copy).
  const { dir, cleanup } = benchFolder("cairn-bench-", SIZE_MIB, 3.2);

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
