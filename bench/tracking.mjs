#!/usr/bin/env node
/**
 * @module `npm run bench:tracking`: metric ingest in 1,000-point batches — through the SDK over HTTP against
 * `cairn serve --rate-limit off` (one client, then 100 runs logging at once), and straight into the embedded
 * store — with a bare SQLite insert of the same rows as the baseline measured in the same run. Prints a
 * table and one JSON line.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, positiveInteger, REPO, table } from "./_lib.mjs";

const GOAL_HTTP = 200_000;
// MLflow 2.12 on SQLite, same batches, a machine of this size (the figure; not measured here).
const MLFLOW_POINTS_PER_S = 11_600;
const BATCH = 1000;
const KEYS = 10;

const BATCHES = positiveInteger("BENCH_BATCHES", 300);
const RUNS = positiveInteger("BENCH_RUNS", 100);
const BATCHES_PER_RUN = positiveInteger("BENCH_BATCHES_PER_RUN", 10);

const load = (path) => import(join(REPO, path));
const { Registry, RunTracker, trackingOf } = await load("packages/core/dist/index.js");
const { openEmbeddedStore } = await load("packages/storage/dist/index.js");
const { CairnClient } = await load("packages/sdk/dist/index.js");
const { openStore } = await load("packages/storage/dist/index.js");
const PG_SERVER = process.env["CAIRN_BENCH_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";
const { default: Database } = await import(join(REPO, "node_modules/better-sqlite3/lib/index.js"));

/** The points of batch `b`: KEYS metrics, BATCH / KEYS steps each, as a training loop buffers them. */
function batchOf(b) {
  const points = new Array(BATCH);
  const now = Date.now();
  for (let i = 0; i < BATCH; i++) {
    points[i] = {
      key: `metric_${i % KEYS}`,
      value: Math.sin(b * BATCH + i),
      step: b * (BATCH / KEYS) + Math.floor(i / KEYS),
      timestamp: now,
    };
  }
  return points;
}

const rate = (points, ms) => Math.round((points * 1000) / ms);

/** A plain rowid table with the same columns and index, multi-row inserts, one transaction a batch. */
function bareSqlite(dir, batches) {
  const db = new Database(join(dir, "bare.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(`CREATE TABLE m (series_id INTEGER, step INTEGER, timestamp INTEGER, value REAL, special TEXT) STRICT;
           CREATE INDEX m_history ON m (series_id, step);`);
  const rows = 250;
  const insert = db.prepare(`INSERT INTO m VALUES ${Array(rows).fill("(?, ?, ?, ?, ?)").join(", ")}`);
  const started = performance.now();
  for (const points of batches) {
    db.transaction(() => {
      const sorted = [...points].sort((a, b) => a.key.localeCompare(b.key) || a.step - b.step);
      for (let at = 0; at < sorted.length; at += rows) {
        const values = [];
        for (const p of sorted.slice(at, at + rows))
          values.push(Number(p.key.slice(7)), p.step, p.timestamp, p.value, null);
        insert.run(...values);
      }
    }).immediate();
  }
  const ms = performance.now() - started;
  db.close();
  return rate(batches.length * BATCH, ms);
}

/** Logs every batch to one run of `store` through core's RunTracker (as the CLI does), then closes it. */
async function ingest(store, batches) {
  const runs = new RunTracker({
    registry: new Registry({ meta: store.meta, content: store.content, actor: "bench" }),
    store: trackingOf(store.meta),
  });
  const run = await runs.start({ experiment: "bench" });
  const started = performance.now();
  for (const points of batches) await runs.log(run.id, { metrics: points });
  const ms = performance.now() - started;
  await store.close();
  return rate(batches.length * BATCH, ms);
}

async function embedded(dir, batches) {
  return ingest(await openEmbeddedStore(join(dir, "embedded")), batches);
}

/** The same ingest into a PostgreSQL store (a throwaway database), or null with the reason when unreachable. */
async function postgres(dir, batches) {
  const { default: pg } = await import(join(REPO, "node_modules/pg/lib/index.js"));
  const name = `cairn_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: PG_SERVER, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (error) {
    console.warn(
      `skipping PostgreSQL: ${new URL(PG_SERVER).host} is not reachable (${error.message}); set CAIRN_BENCH_DATABASE_URL`,
    );
    return null;
  }
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  try {
    const url = new URL(PG_SERVER);
    url.pathname = `/${name}`;
    return await ingest(await openStore({ home: join(dir, "pg"), databaseUrl: url.toString() }), batches);
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

/** `cairn serve` on a free port over its own store; resolves with its URL and a way to stop it. */
function serve(home) {
  const child = spawn(
    process.execPath,
    [CLI, "serve", "--port", "0", "--rate-limit", "off", "--log-level", "warn", "--json"],
    { env: { ...process.env, CAIRN_HOME: home }, stdio: ["ignore", "pipe", "inherit"] },
  );
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (bytes) => {
      out += bytes;
      const end = out.indexOf("}");
      if (end < 0) return;
      const { url } = JSON.parse(out.slice(0, end + 1));
      resolve({
        url,
        stop: () =>
          new Promise((done) => {
            child.once("exit", done);
            child.kill("SIGTERM");
          }),
      });
    });
    child.once("exit", (code) => reject(new Error(`cairn serve exited (${code}) before listening`)));
  });
}

async function overHttp(url, batches) {
  const client = new CairnClient({ url, token: "" });
  const run = await client.startRun({ experiment: "bench-http" });
  await run.logMetricPoints(batches[0]); // warm-up: connection, JIT
  const started = performance.now();
  for (const points of batches) await run.logMetricPoints(points);
  const ms = performance.now() - started;
  await run.end();
  return rate(batches.length * BATCH, ms);
}

/** One run, its points sent by the SDK's MetricLogger: 1,000-point batches, up to 4 on the wire at once. */
async function overHttpBuffered(url, batches) {
  const client = new CairnClient({ url, token: "" });
  const run = await client.startRun({ experiment: "bench-http-buffered" });
  const logger = run.metricLogger({ batchSize: BATCH, maxInFlight: 4 });
  await logger.logPoints(batches[0]);
  await logger.flush();
  const started = performance.now();
  for (const points of batches) await logger.logPoints(points);
  await logger.flush();
  const ms = performance.now() - started;
  await run.end();
  return rate(batches.length * BATCH, ms);
}

async function manyRuns(url) {
  const client = new CairnClient({ url, token: "" });
  const runs = await Promise.all(
    Array.from({ length: RUNS }, (_, i) => client.startRun({ experiment: "bench-swarm", name: `r${i}` })),
  );
  const batches = Array.from({ length: BATCHES_PER_RUN }, (_, b) => batchOf(b));
  const started = performance.now();
  await Promise.all(
    runs.map(async (run) => {
      for (const points of batches) await run.logMetricPoints(points);
    }),
  );
  const ms = performance.now() - started;
  // Nothing lost: every run holds every point.
  const lost = [];
  for (const run of runs) {
    const history = await client.metricHistory(run.id, "metric_0", { limit: 100_000 });
    if (history.points.length !== BATCHES_PER_RUN * (BATCH / KEYS)) lost.push(run.id);
  }
  if (lost.length > 0) throw new Error(`${lost.length} runs lost points`);
  return rate(RUNS * BATCHES_PER_RUN * BATCH, ms);
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "cairn-bench-tracking-"));
  try {
    const batches = Array.from({ length: BATCHES }, (_, b) => batchOf(b));
    const bare = bareSqlite(dir, batches);
    const local = await embedded(dir, batches);
    const pgRate = await postgres(dir, batches);
    const server = await serve(join(dir, "served"));
    let http;
    let buffered;
    let swarm;
    try {
      http = await overHttp(server.url, batches);
      buffered = await overHttpBuffered(server.url, batches);
      swarm = await manyRuns(server.url);
    } finally {
      await server.stop();
    }
    const ratio = (x) => (x / bare).toFixed(2);
    console.log(
      table([
        ["ingest, 1,000-point batches", "points/s", "vs bare SQLite", "vs goal", "vs MLflow 2.12*"],
        ["bare SQLite insert (baseline)", bare, "1.00", "", ""],
        ["embedded store (RunTracker)", local, ratio(local), "", (local / MLFLOW_POINTS_PER_S).toFixed(1)],
        [
          "PostgreSQL store (RunTracker)",
          pgRate ?? "skipped",
          pgRate === null ? "" : ratio(pgRate),
          "",
          pgRate === null ? "" : (pgRate / MLFLOW_POINTS_PER_S).toFixed(1),
        ],
        [
          "SDK over HTTP, one run",
          http,
          ratio(http),
          (http / GOAL_HTTP).toFixed(2),
          (http / MLFLOW_POINTS_PER_S).toFixed(1),
        ],
        [
          "SDK over HTTP, one run, MetricLogger (4 in flight)",
          buffered,
          ratio(buffered),
          (buffered / GOAL_HTTP).toFixed(2),
          (buffered / MLFLOW_POINTS_PER_S).toFixed(1),
        ],
        [
          `SDK over HTTP, ${RUNS} runs at once`,
          swarm,
          ratio(swarm),
          "",
          (swarm / MLFLOW_POINTS_PER_S).toFixed(1),
        ],
      ]),
    );
    console.log(
      `* MLflow 2.12 with SQLite: about ${MLFLOW_POINTS_PER_S} points/s with the same batches (the issue's figure, not measured here); goal over HTTP: >= ${GOAL_HTTP}`,
    );
    console.log(
      JSON.stringify({
        bench: "tracking",
        batch: BATCH,
        points: BATCHES * BATCH,
        bareSqlitePointsPerS: bare,
        embeddedPointsPerS: local,
        postgresPointsPerS: pgRate,
        httpPointsPerS: http,
        httpBufferedPointsPerS: buffered,
        httpGoalMet: Math.max(http, buffered) >= GOAL_HTTP,
        concurrentRuns: RUNS,
        concurrentPointsPerS: swarm,
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
