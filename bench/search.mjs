#!/usr/bin/env node
/**
 * @module The search part of `npm run bench:tracking`: 100,000 runs with 20 metrics each (seeded with bulk SQL,
 * the fast way in), then filters through the store's search port (`store.search.search`, the code path of
 * `cairn search` and GET /api/v1/search) on SQLite and on PostgreSQL: p50/p95 over BENCH_SEARCH_ROUNDS (100)
 * repetitions of each query shape — narrow and broad filters, newest first or sorted by a metric, param or
 * created time, a later page through its cursor — against the 50 ms goal, and the first query's p95 as a ratio
 * to a hand-written SQL equivalent run on the same database in the same run. PostgreSQL is skipped (and says so)
 * when unreachable. Prints a table, whether the goal was met, and one JSON line.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { positiveInteger, REPO, table } from "./_lib.mjs";

const GOAL_MS = 50;
const RUNS = positiveInteger("BENCH_SEARCH_RUNS", 100_000);
const METRICS = 20;
const ROUNDS = positiveInteger("BENCH_SEARCH_ROUNDS", 100);

const load = (path) => import(join(REPO, path));
const { openStore } = await load("packages/storage/dist/index.js");
const { default: Database } = await import(join(REPO, "node_modules/better-sqlite3/lib/index.js"));
const PG_SERVER = process.env["CAIRN_BENCH_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";

// Each query with the shape it stands for: how many runs match (broad or narrow) and what orders them.
const QUERIES = [
  ["narrow, newest first", "metrics.m3 > 0.999"],
  ["narrow, three parts", "metrics.m5 > 0.99 and params.lr = 0.01 and tags.team = 'nlp'"],
  ["broad, newest first", "status = 'finished'"],
  ["all, by a metric", "order by metrics.m4 desc"],
  ["broad, by a metric", "experiment = 'exp-3' and status = 'finished' order by metrics.m1 desc limit 10"],
  ["broad, by another metric", "tags.team = 'nlp' and params.lr = 0.1 order by metrics.m9"],
  ["broad, bound on the sort key", "metrics.m2 > 0.5 order by metrics.m2 desc limit 20"],
  [
    "narrow, bound on the sort key",
    "(tags.team = 'vision' or tags.team = 'audio') and metrics.m7 < 0.001 order by metrics.m7",
  ],
  ["narrow, by another metric", "metrics.m3 > 0.99 order by metrics.m8 desc"],
  ["medium (2%), by another metric", "metrics.m3 > 0.98 order by metrics.m8 desc"],
  ["broad, by created time", "experiment = 'exp-3' order by created_at"],
  ["broad, by a param", "experiment = 'exp-3' and status = 'failed' order by params.lr desc"],
  ["page 20, broad by a metric", "experiment = 'exp-3' order by metrics.m1 desc", { page: 20 }],
  ["page 20, all by a metric", "order by metrics.m4", { page: 20 }],
];
// The first query by hand, the way one would write it without a search language.
const BASELINE = {
  sqlite: `SELECT r.id FROM run_metric_series s JOIN runs r ON r.id = s.run_id WHERE s.key = 'm3' AND s.value > 0.999 ORDER BY r.start_time DESC, r.id DESC LIMIT 51`,
  postgres: `SELECT r.id FROM run_metric_series s JOIN runs r ON r.id = s.run_id WHERE s.key = 'm3' AND s.value > 0.999 ORDER BY r.start_time DESC, r.id DESC LIMIT 51`,
};

const TEAMS = ["nlp", "vision", "audio", "rl", "infra"];
const LRS = [0.1, 0.01, 0.001];
// A fixed-seed generator, so both databases hold the same values.
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
function* rows() {
  const next = random(42);
  for (let i = 0; i < RUNS; i++) {
    const id = `run-${String(i).padStart(7, "0")}`;
    const at = new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString();
    const metrics = Array.from({ length: METRICS }, () => next());
    yield {
      i,
      id,
      at,
      metrics,
      team: TEAMS[i % TEAMS.length],
      lr: LRS[i % LRS.length],
      status: i % 7 === 0 ? "failed" : "finished",
    };
  }
}

const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
async function measure(fn) {
  await fn(); // warm
  const times = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95) };
}

async function runQueries(driver, store, baseline) {
  const results = [];
  const base = await measure(baseline);
  for (const [shape, q, options = {}] of QUERIES) {
    // A later page starts from the cursor the page before it returned, as a client walking pages would.
    let cursor;
    for (let p = 1; p < (options.page ?? 1); p++) {
      cursor = (await store.search.search({ query: q, kind: "runs", cursor })).nextCursor ?? undefined;
    }
    let hits = 0;
    const t = await measure(async () => {
      hits = (await store.search.search({ query: q, kind: "runs", cursor })).hits.length;
    });
    results.push({ driver, shape, query: q, hits, p50: t.p50, p95: t.p95, met: t.p95 < GOAL_MS });
  }
  results[0].baselineP95 = base.p95;
  results[0].ratio = results[0].p95 / base.p95;
  return results;
}

async function sqlite() {
  const home = mkdtempSync(join(tmpdir(), "cairn-bench-search-"));
  try {
    (await openStore({ home })).close();
    const db = new Database(join(home, "cairn.db"));
    const seedStart = process.hrtime.bigint();
    db.transaction(() => {
      const exp = db.prepare(
        "INSERT INTO experiments (id, name, created_at) VALUES (?, ?, '2024-01-01T00:00:00.000Z')",
      );
      for (let e = 0; e < 10; e++) exp.run(e + 1, `exp-${e}`);
      const run = db.prepare(
        `INSERT INTO runs (id, experiment_id, name, status, start_time, end_time, created_by) VALUES (?, ?, ?, ?, ?, ?, 'bench')`,
      );
      const param = db.prepare("INSERT INTO run_params (run_id, key, value) VALUES (?, 'lr', ?)");
      const tag = db.prepare("INSERT INTO run_tags (run_id, key, value) VALUES (?, 'team', ?)");
      const metric = db.prepare(
        "INSERT INTO run_metric_series (run_id, key, step, timestamp, value) VALUES (?, ?, 0, 0, ?)",
      );
      for (const r of rows()) {
        run.run(r.id, (r.i % 10) + 1, `run ${r.i}`, r.status, r.at, r.at);
        param.run(r.id, JSON.stringify(r.lr));
        tag.run(r.id, r.team);
        for (const [k, v] of r.metrics.entries()) metric.run(r.id, `m${k}`, v);
      }
    })();
    db.exec("ANALYZE");
    const seeded = Number(process.hrtime.bigint() - seedStart) / 1e9;
    db.close();
    const store = await openStore({ home });
    const raw = new Database(join(home, "cairn.db"), { readonly: true });
    const baseline = raw.prepare(BASELINE.sqlite);
    try {
      return { seeded, results: await runQueries("sqlite", store, async () => baseline.all()) };
    } finally {
      raw.close();
      await store.close();
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

async function postgres() {
  const { default: pg } = await import(join(REPO, "node_modules/pg/lib/index.js"));
  const name = `cairn_bench_search_${process.pid}`;
  const server = new pg.Client({ connectionString: PG_SERVER, connectionTimeoutMillis: 5000 });
  try {
    await server.connect();
  } catch (error) {
    return { skipped: `PostgreSQL at ${new URL(PG_SERVER).host} unreachable (${error.message})` };
  }
  await server.query(`CREATE DATABASE ${name}`);
  const url = new URL(PG_SERVER);
  url.pathname = `/${name}`;
  const home = mkdtempSync(join(tmpdir(), "cairn-bench-search-pg-"));
  try {
    (await openStore({ home, databaseUrl: url.toString() })).close();
    const db = new pg.Client({ connectionString: url.toString() });
    await db.connect();
    const seedStart = process.hrtime.bigint();
    await db.query(
      "INSERT INTO experiments (name, created_at) SELECT 'exp-' || e, '2024-01-01T00:00:00.000Z' FROM generate_series(0, 9) e",
    );
    const all = [...rows()];
    const ids = all.map((r) => r.id);
    await db.query(
      `INSERT INTO runs (id, experiment_id, name, status, start_time, end_time, created_by)
       SELECT id, (SELECT x.id FROM experiments x WHERE x.name = 'exp-' || (i % 10)), 'run ' || i, status, at, at, 'bench'
       FROM unnest($1::text[], $2::int[], $3::text[], $4::text[]) AS t(id, i, status, at)`,
      [ids, all.map((r) => r.i), all.map((r) => r.status), all.map((r) => r.at)],
    );
    await db.query(
      `INSERT INTO run_params (run_id, key, value) SELECT id, 'lr', v FROM unnest($1::text[], $2::text[]) t(id, v)`,
      [ids, all.map((r) => JSON.stringify(r.lr))],
    );
    await db.query(
      `INSERT INTO run_tags (run_id, key, value) SELECT id, 'team', v FROM unnest($1::text[], $2::text[]) t(id, v)`,
      [ids, all.map((r) => r.team)],
    );
    for (let k = 0; k < METRICS; k++) {
      await db.query(
        `INSERT INTO run_metric_series (run_id, key, step, timestamp, value) SELECT id, $3, 0, 0, v FROM unnest($1::text[], $2::float8[]) t(id, v)`,
        [ids, all.map((r) => r.metrics[k]), `m${k}`],
      );
    }
    await db.query("ANALYZE");
    const seeded = Number(process.hrtime.bigint() - seedStart) / 1e9;
    const store = await openStore({ home, databaseUrl: url.toString() });
    try {
      return { seeded, results: await runQueries("postgres", store, () => db.query(BASELINE.postgres)) };
    } finally {
      await store.close();
      await db.end();
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
    await server.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await server.end();
  }
}

const outcome = {
  runs: RUNS,
  metricsPerRun: METRICS,
  rounds: ROUNDS,
  goalMs: GOAL_MS,
  sqlite: await sqlite(),
  postgres: await postgres(),
};
const lines = [["driver", "shape", "query", "hits", "p50 ms", "p95 ms", "goal"]];
for (const part of [outcome.sqlite, outcome.postgres]) {
  if (part.skipped) {
    console.log(`postgres skipped: ${part.skipped}`);
    continue;
  }
  for (const r of part.results) {
    lines.push([
      r.driver,
      r.shape,
      r.query,
      String(r.hits),
      r.p50.toFixed(2),
      r.p95.toFixed(2),
      r.met ? "met" : "MISSED",
    ]);
  }
  const first = part.results[0];
  console.log(
    `${first.driver}: seeded in ${part.seeded.toFixed(1)} s; query 1 p95 vs hand-written SQL: ${first.ratio.toFixed(2)}x (${first.baselineP95.toFixed(2)} ms)`,
  );
}
console.log(table(lines));
const measured = [outcome.sqlite, outcome.postgres].flatMap((part) => part.results ?? []);
const missed = measured.filter((r) => !r.met);
console.log(
  missed.length === 0
    ? `goal met: every query's p95 < ${GOAL_MS} ms (${ROUNDS} rounds each, ${RUNS} runs)`
    : `goal MISSED by ${missed.length} of ${measured.length} queries: p95 >= ${GOAL_MS} ms (${ROUNDS} rounds each, ${RUNS} runs)`,
);
console.log(JSON.stringify(outcome));
