#!/usr/bin/env node
/**
 * @module `npm run bench:api`: the server under load, every figure next to its goal, each ratio measured in the
 * same run.
 *
 *   1. resolving `name@production` (GET /api/v1/resolve/:ref): wrk (or autocannon where wrk is not on PATH; the
 *      output says which), 50 connections on loopback, against
 *      `cairn serve --port 0 --rate-limit off` run as a user runs it (its own process, JSON logs at the default
 *      level, over a fresh embedded store holding one artifact with a `production` alias): req/s and p99 latency;
 *      then, as information next to it, the same with `--workers N`
 *   2. push of a new file (random bytes, 1 GiB) over HTTP — `cairn push` with CAIRN_URL naming that server, the
 *      CLI's remote mode (the SDK with the chunk store's chunker) — vs `cairn push` of the same file into a
 *      fresh embedded store: both the same command in its own process, both ended with `sync`, the page cache
 *      dropped before each
 *
 * Environment: BENCH_SIZE_MB (MiB of the pushed file, default 1024), BENCH_DURATION_S (seconds of load,
 * default 10), BENCH_CONNECTIONS (default 50), BENCH_ROUNDS (pushes of each kind, a new file per round; medians
 * are compared; default 1), BENCH_DIR (parent of the temporary folder: it needs about 3.2 × the size free),
 * BENCH_ONLY=resolve (measure resolving only; the push part takes minutes), BENCH_WORKERS (the `--workers` of
 * the second resolve measure, printed as information; default one per core).
 */
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, rmSync, watch, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import {
  benchFolder,
  CLI,
  dropCaches,
  MB,
  MiB,
  median,
  positiveInteger,
  REPO,
  round3,
  table,
  timed,
  timedWithSync,
  writeRandomFile,
} from "./_lib.mjs";

const GOALS = {
  resolve_rps: 20_000, // at least
  resolve_p99_ms: 5, // under
  push_http_vs_embedded: 0.6, // embedded push time / HTTP push time, at least
};

/**
 * The HTTP contender, run in its own process as `cairn push --url` would be: the SDK with the chunk store's
 * chunker. Prints the push's result as one JSON line.
 */
/**
 * `cairn serve` in its own process; resolves with its URL once it logs the line it listens on. Its logs go to
 * a file, as a served registry's do: read through a pipe, they would cost this process a share of the two
 * cores that the server and the load generator need.
 */
function startServer(home, logFile, extraArgs = []) {
  const env = { ...cleanEnv(), CAIRN_HOME: home };
  const log = openSync(logFile, "a");
  const child = spawn(process.execPath, [CLI, "serve", "--port", "0", "--rate-limit", "off", ...extraArgs], {
    env,
    stdio: ["ignore", log, "ignore"],
  });
  closeSync(log);
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return { child, exited, url: loggedUrl(child, logFile) };
}

/** The URL in the "listening on URL" line a server child writes to `logFile`, watched until it appears. */
function loggedUrl(child, logFile) {
  return new Promise((resolve, reject) => {
    const look = () => {
      const match = /listening on (http:\/\/\S+)\n/.exec(readFileSync(logFile, "utf8"));
      if (!match) return;
      watcher.close();
      resolve(match[1]);
    };
    const watcher = watch(logFile, look);
    child.on("exit", (code) => {
      watcher.close();
      reject(new Error(`cairn serve exited with ${code} before listening`));
    });
    look();
  });
}

/** The URL a child prints in its "listening on URL" line on stdout; what it prints after is dropped. */
function listeningUrl(child, what) {
  return new Promise((resolve, reject) => {
    let out = "";
    const scan = (piece) => {
      out += String(piece);
      const match = /listening on (http:\/\/\S+)\n/.exec(out);
      if (!match) return;
      child.stdout.off("data", scan);
      child.stdout.resume();
      out = "";
      resolve(match[1]);
    };
    child.stdout.on("data", scan);
    child.on("exit", (code) => reject(new Error(`${what} exited with ${code} before listening`)));
  });
}

/**
 * The reference: Fastify answering a constant JSON object with no logging, in its own process, loaded the same
 * way. On a shared, noisy machine the ratio to it says more than req/s alone.
 */
function startBareFastify() {
  const source = `
    const app = require(${JSON.stringify(join(REPO, "node_modules", "fastify"))})();
    app.get("/", async () => ({ hello: "world" }));
    app.listen({ host: "127.0.0.1", port: 0 }).then((url) => console.log("listening on " + url));`;
  const child = spawn(process.execPath, ["-e", source], { stdio: ["ignore", "pipe", "inherit"] });
  return { child, url: listeningUrl(child, "bare Fastify") };
}

/** The caller's shell must not point the bench at another registry or database. */
function cleanEnv() {
  const env = { ...process.env, NO_COLOR: "1" };
  for (const key of ["CAIRN_URL", "CAIRN_TOKEN", "CAIRN_DATABASE_URL", "CAIRN_BLOB_URL", "CAIRN_HOME"]) {
    delete env[key];
  }
  return env;
}

/**
 * The load generator: wrk, a C program, where it is on PATH; else autocannon, which runs in Node and takes most
 * of a core from the two the server shares. Both the server and bare Fastify are loaded by the same one.
 */
const WRK = spawnSync("wrk", ["--version"], { stdio: "ignore" }).error === undefined;
const LOAD_GENERATOR = WRK ? "wrk" : "autocannon";

// wrk prints its summary as one JSON line (latencies in µs) through this script's `done` hook.
const WRK_SUMMARY = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d,"timeouts":%d,"non2xx":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write, e.timeout, e.status))
end
`;

/** `connections` keep requesting `url` for `seconds`: requests per second, latencies in ms, the total. */
async function load(url, seconds, connections, dir) {
  let summary;
  if (WRK) {
    const script = join(dir, "wrk-summary.lua");
    writeFileSync(script, WRK_SUMMARY);
    const run = spawnSync("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, "-s", script, url], {
      encoding: "utf8",
    });
    const line = run.stdout?.split("\n").find((l) => l.startsWith("{"));
    if (run.status !== 0 || line === undefined) {
      throw new Error(`wrk failed (${run.status}): ${run.stderr || run.stdout}`);
    }
    const w = JSON.parse(line);
    const s = w.duration_us / 1e6;
    summary = {
      rps: w.requests / s,
      p50: round3(w.p50_us / 1000, 2),
      p99: round3(w.p99_us / 1000, 2),
      total: w.requests,
      seconds: s,
      errors: w.errors,
      timeouts: w.timeouts,
      non2xx: w.non2xx,
    };
  } else {
    const r = await autocannon({ url, connections, duration: seconds, pipelining: 1 });
    summary = {
      rps: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      total: r.requests.total,
      seconds: r.duration,
      errors: r.errors,
      timeouts: r.timeouts,
      non2xx: r.non2xx,
    };
  }
  if (summary.errors > 0 || summary.non2xx > 0 || summary.timeouts > 0) {
    throw new Error(
      `the resolve load saw ${summary.errors} errors, ${summary.timeouts} timeouts and ${summary.non2xx} non-2xx answers`,
    );
  }
  return summary;
}

async function main() {
  for (const built of [
    ["cli", "main.js"],
    ["sdk", "index.js"],
    ["server", "index.js"],
  ]) {
    if (!existsSync(join(REPO, "packages", built[0], "dist", built[1]))) {
      throw new Error("cairn is not built: run `npx tsc -b` first");
    }
  }
  const SIZE_MIB = positiveInteger("BENCH_SIZE_MB", 1024);
  const DURATION = positiveInteger("BENCH_DURATION_S", 10);
  const CONNECTIONS = positiveInteger("BENCH_CONNECTIONS", 50);
  const ROUNDS = positiveInteger("BENCH_ROUNDS", 1);
  const WORKERS = positiveInteger("BENCH_WORKERS", availableParallelism());
  const SIZE = SIZE_MIB * MiB;

  let server;
  const stopServer = () => {
    if (server && server.child.exitCode === null) server.child.kill("SIGKILL");
  };
  // The file, the embedded store's copy and the served store's copy.
  const { dir, cleanup } = benchFolder("cairn-bench-api-", SIZE_MIB, 3.2, stopServer);

  try {
    console.log(`cairn bench:api in ${dir}`);
    const served = join(dir, "served");
    const env = { ...cleanEnv(), CAIRN_HOME: served };
    const seedFile = join(dir, "seed.bin");
    writeRandomFile(seedFile, 1 * MiB);
    const seeded = JSON.parse(
      timed(process.execPath, [CLI, "push", "bench-model", seedFile, "--json"], { cwd: dir, env }).stdout,
    );
    timed(process.execPath, [CLI, "alias", "set", "bench-model", "production", seeded.version, "--json"], {
      cwd: dir,
      env,
    });

    // 1. Resolve under load.
    server = startServer(served, join(dir, "serve.log"));
    const base = await server.url;
    const resolveUrl = `${base}/api/v1/resolve/${encodeURIComponent("bench-model@production")}`;
    const first = await fetch(resolveUrl);
    const view = await first.json();
    if (first.status !== 200 || view.version !== seeded.version) {
      throw new Error(`resolve answered ${first.status}: ${JSON.stringify(view).slice(0, 300)}`);
    }
    console.log(
      `  ${base}: ${LOAD_GENERATOR}, ${CONNECTIONS} connections, ${DURATION} s (after 2 s of warm-up) on ${resolveUrl}`,
    );
    // Skipped under BENCH_ONLY=push: then no resolve figure or goal is printed.
    const pushOnly = process.env.BENCH_ONLY === "push";
    if (!pushOnly) await load(resolveUrl, 2, CONNECTIONS, dir);
    const resolved = pushOnly
      ? { rps: Number.NaN, p50: Number.NaN, p99: Number.NaN, total: 0, seconds: 0 }
      : await load(resolveUrl, DURATION, CONNECTIONS, dir);
    const rps = resolved.rps;
    const p99 = resolved.p99;
    let bareRps = Number.NaN;
    let bareP99 = Number.NaN;
    let workersResolved = { rps: Number.NaN, p50: Number.NaN, p99: Number.NaN };
    if (!pushOnly) {
      const bare = startBareFastify();
      try {
        const bareUrl = await bare.url;
        await load(bareUrl, 2, CONNECTIONS, dir);
        ({ rps: bareRps, p99: bareP99 } = await load(bareUrl, DURATION, CONNECTIONS, dir));
      } finally {
        bare.child.kill("SIGKILL");
      }
      console.log(
        `  resolve: ${rps.toFixed(0)} req/s, p50 ${resolved.p50} ms, p99 ${p99} ms; bare Fastify in the ` +
          `same run: ${bareRps.toFixed(0)} req/s, p99 ${bareP99} ms (resolve at ${(rps / bareRps).toFixed(2)}× of it)`,
      );
      // Information, not a goal: the same store served by `--workers N` (default one per core), loaded alike.
      const many = startServer(served, join(dir, "serve-workers.log"), ["--workers", String(WORKERS)]);
      try {
        const manyUrl = `${await many.url}/api/v1/resolve/${encodeURIComponent("bench-model@production")}`;
        await load(manyUrl, 2, CONNECTIONS, dir);
        workersResolved = await load(manyUrl, DURATION, CONNECTIONS, dir);
        many.child.kill("SIGTERM");
        const stopped = await many.exited;
        if (stopped.code !== 0)
          throw new Error(`cairn serve --workers exited with ${JSON.stringify(stopped)}`);
      } finally {
        if (many.child.exitCode === null) many.child.kill("SIGKILL");
      }
      console.log(
        `  resolve with --workers ${WORKERS} (information): ${workersResolved.rps.toFixed(0)} req/s, ` +
          `p50 ${workersResolved.p50} ms, p99 ${workersResolved.p99} ms`,
      );
    }

    // The resolve figures as both summaries (resolve only, or with the push) print them.
    const resolveSummary = pushOnly
      ? { resolve: "skipped (BENCH_ONLY=push)" }
      : {
          load_generator: LOAD_GENERATOR,
          connections: CONNECTIONS,
          duration_s: DURATION,
          resolve_rps: round3(rps, 0),
          resolve_p50_ms: resolved.p50,
          resolve_p99_ms: p99,
          resolve_total: resolved.total,
          bare_fastify_rps: round3(bareRps, 0),
          bare_fastify_p99_ms: bareP99,
          resolve_vs_bare_fastify: round3(rps / bareRps),
          workers: WORKERS,
          resolve_workers_rps: round3(workersResolved.rps, 0),
          resolve_workers_p99_ms: workersResolved.p99,
        };
    const resolveGoals = pushOnly
      ? {}
      : { resolve_rps: rps >= GOALS.resolve_rps, resolve_p99_ms: p99 < GOALS.resolve_p99_ms };

    // 2. Push of a new file: embedded vs over HTTP, a new random file each round.
    if (process.env.BENCH_ONLY === "resolve") {
      server.child.kill("SIGTERM");
      const stopped = await server.exited;
      if (stopped.code !== 0)
        throw new Error(`cairn serve exited with ${JSON.stringify(stopped)} on SIGTERM`);
      console.log(
        JSON.stringify({
          bench: "api",
          push: "skipped (BENCH_ONLY=resolve)",
          ...resolveSummary,
          goals_met: resolveGoals,
        }),
      );
      return;
    }
    const cold = dropCaches();
    const runs = { embedded: [], http: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const file = join(dir, `model-${round}.bin`);
      const made = process.hrtime.bigint();
      const sha = writeRandomFile(file, SIZE);
      console.log(
        `  round ${round + 1}: wrote ${SIZE_MIB} MiB in ${(Number(process.hrtime.bigint() - made) / 1e9).toFixed(1)} s`,
      );

      const home = join(dir, `embedded-${round}`);
      dropCaches();
      const embedded = timedWithSync(process.execPath, [CLI, "push", "bench", file, "--json"], {
        cwd: dir,
        env: { ...cleanEnv(), CAIRN_HOME: home },
      });
      runs.embedded.push(embedded.s);
      rmSync(home, { recursive: true, force: true });

      dropCaches();
      const http = timedWithSync(process.execPath, [CLI, "push", "bench", file, "--json"], {
        cwd: dir,
        env: { ...cleanEnv(), CAIRN_URL: base, CAIRN_CACHE: join(dir, "cache") },
      });
      runs.http.push(http.s);
      const pushed = JSON.parse(http.stdout);
      if (pushed.files?.[0]?.sha256 !== sha || JSON.parse(embedded.stdout).files?.[0]?.sha256 !== sha) {
        throw new Error("a pushed version does not hold the file's bytes");
      }
      rmSync(file);
    }

    server.child.kill("SIGTERM");
    const stopped = await server.exited;
    if (stopped.code !== 0) throw new Error(`cairn serve exited with ${JSON.stringify(stopped)} on SIGTERM`);

    const embeddedS = median(runs.embedded);
    const httpS = median(runs.http);
    const rate = (s) => SIZE / MB / s;
    const ratio = embeddedS / httpS;
    const verdict = (ok) => (ok ? "met" : "MISSED");
    console.log();
    console.log(
      table([
        ["measure", "result", "goal", ""],
        ...(pushOnly
          ? []
          : [
              [
                "resolve name@production: req/s",
                rps.toFixed(0),
                `≥ ${GOALS.resolve_rps}`,
                verdict(rps >= GOALS.resolve_rps),
              ],
              [
                "resolve name@production: p99",
                `${p99} ms`,
                `< ${GOALS.resolve_p99_ms} ms`,
                verdict(p99 < GOALS.resolve_p99_ms),
              ],
            ]),
        [
          "push, embedded (cairn push + sync)",
          `${embeddedS.toFixed(2)} s`,
          `${rate(embeddedS).toFixed(0)} MB/s`,
          "",
        ],
        [
          "push over HTTP (cairn push, CAIRN_URL, + sync)",
          `${httpS.toFixed(2)} s`,
          `${rate(httpS).toFixed(0)} MB/s`,
          "",
        ],
        [
          "push over HTTP vs embedded (throughput)",
          `${ratio.toFixed(2)}×`,
          `≥ ${GOALS.push_http_vs_embedded}×`,
          verdict(ratio >= GOALS.push_http_vs_embedded),
        ],
      ]),
    );
    const resolvedNote = pushOnly
      ? "resolve not measured (BENCH_ONLY=push)"
      : `${resolved.total} resolves in ${resolved.seconds.toFixed(1)} s, p50 ${resolved.p50} ms, p99 ${p99} ms with ${LOAD_GENERATOR}`;
    console.log(
      `  (${resolvedNote}; ${SIZE} bytes pushed, MB = 10^6 bytes, median of ${ROUNDS}; page cache ${cold ? "cold" : "warm (could not be dropped)"}; ` +
        `load generator and server share this machine's ${availableParallelism()} cores)`,
    );
    console.log();
    console.log(
      JSON.stringify({
        bench: "api",
        ...resolveSummary,
        size_bytes: SIZE,
        rounds: ROUNDS,
        cache: cold ? "cold" : "warm",
        push_embedded_s: round3(embeddedS),
        push_http_s: round3(httpS),
        push_embedded_mb_s: round3(rate(embeddedS), 1),
        push_http_mb_s: round3(rate(httpS), 1),
        push_http_vs_embedded: round3(ratio),
        runs_s: { embedded: runs.embedded.map((v) => round3(v)), http: runs.http.map((v) => round3(v)) },
        goals: GOALS,
        goals_met: { ...resolveGoals, push_http_vs_embedded: ratio >= GOALS.push_http_vs_embedded },
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
      }),
    );
  } finally {
    stopServer();
    cleanup();
  }
}

main().catch((error) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
