#!/usr/bin/env node
/**
 * @module `npm run bench:scale`: the metadata store on PostgreSQL at team scale, each figure next to its goal.
 *
 *   Seed: a throwaway database (created on the server at BENCH_DATABASE_URL, else CAIRN_TEST_DATABASE_URL, else
 *   postgres://postgres@127.0.0.1:5432/postgres; dropped at the end) with cairn's schema, then BENCH_ARTIFACTS
 *   artifacts (10,000) × BENCH_VERSIONS versions (100) — 1M versions — written with COPY and INSERT … SELECT
 *   straight into the tables (a bench shortcut: pushing a million versions through the API would take hours).
 *   Versions have distinct creation times, increasing per artifact, pushes of all artifacts interleaved.
 *   Each version has one file, two tags (team=team-N, stage=…) and two metrics (accuracy, loss); each artifact
 *   has a `production` alias on its newest version.
 *
 *   1. p95 latency over BENCH_SAMPLES random artifacts (500) of, each measured in this process:
 *        - listing one artifact's versions    (PostgresMetadataStore.listVersions, through core's interface)
 *        - resolving `name@production`        (core's Registry.resolve over the PostgreSQL metadata store)
 *        - search by tag                      (the store's search port: `tags.team = 'team-N'`, 50 newest)
 *        - search by metric                   (the store's search port: the 50 versions with the best
 *                                              accuracy above a threshold)
 *      goal: p95 < 20 ms each.
 *   2. resolve throughput over HTTP (GET /api/v1/resolve/:ref, autocannon, BENCH_CONNECTIONS connections for
 *      BENCH_DURATION_S seconds): one `cairn serve` process vs two on the same database (connections spread
 *      over both), printed as a ratio. On a machine with fewer than 4 cores the bench, PostgreSQL and the
 *      servers share them, which caps the ratio; the core count is printed with it.
 *
 * For working on a query: BENCH_KEEP_DATABASE=1 keeps the seeded database (its name is printed) and
 * BENCH_REUSE_DATABASE=<name> measures against one kept earlier instead of seeding (and keeps it);
 * BENCH_ONLY=latency skips the HTTP part.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import autocannon from "autocannon";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { CLI, positiveInteger, REPO, round3, table } from "./_lib.mjs";

const ARTIFACTS = positiveInteger("BENCH_ARTIFACTS", 10_000);
const VERSIONS = positiveInteger("BENCH_VERSIONS", 100);
const SAMPLES = positiveInteger("BENCH_SAMPLES", 500);
const DURATION = positiveInteger("BENCH_DURATION_S", 10);
const CONNECTIONS = positiveInteger("BENCH_CONNECTIONS", 50);
const SERVER_URL =
  process.env.BENCH_DATABASE_URL ||
  process.env.CAIRN_TEST_DATABASE_URL ||
  "postgres://postgres@127.0.0.1:5432/postgres";

const GOALS = { p95_ms: 20 };
const REUSE = process.env.BENCH_REUSE_DATABASE || "";
const KEEP = Boolean(REUSE) || process.env.BENCH_KEEP_DATABASE === "1";
const LATENCY_ONLY = process.env.BENCH_ONLY === "latency";
if (REUSE && !/^[a-z_][a-z0-9_]*$/.test(REUSE)) throw new Error("BENCH_REUSE_DATABASE: not a database name");

const withDatabase = (url, database) => {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
};

/** Rows as COPY text lines, produced lazily so a million of them never sit in memory at once. */
function copyLines(count, line) {
  let i = 0;
  return Readable.from(
    (function* () {
      let batch = "";
      for (; i < count; i++) {
        batch += `${line(i)}\n`;
        if (batch.length > 1 << 20) {
          yield batch;
          batch = "";
        }
      }
      if (batch) yield batch;
    })(),
  );
}

async function copy(client, sql, count, line) {
  await pipeline(copyLines(count, line), client.query(copyFrom(sql)));
}

const EPOCH = Date.parse("2026-01-01T00:00:00.000Z");

/**
 * When version n of artifact a was pushed: distinct and increasing per artifact, as real pushes are, with the
 * artifacts' pushes interleaved (every artifact's n-th version before any (n+1)-th, a few seconds apart), so
 * neither ids nor creation times group an artifact's, or a team's, versions together.
 */
const pushedAt = (a, n) => new Date(EPOCH + (n * ARTIFACTS + a) * 7_000).toISOString();

async function seed(client) {
  const at = new Date(EPOCH).toISOString();
  // Fresh tables hand out identities from 1 in COPY order: artifact a is id a+1, its version n is id a*V+n+1.
  await copy(
    client,
    "COPY artifacts (name, type, created_at) FROM STDIN",
    ARTIFACTS,
    (a) => `model-${a}\tmodel\t${at}`,
  );
  await copy(
    client,
    "COPY versions (artifact_id, version, seq, created_at, created_by, params, major, minor, patch) FROM STDIN",
    ARTIFACTS * VERSIONS,
    (i) => {
      const a = Math.floor(i / VERSIONS);
      const n = i % VERSIONS;
      return `${a + 1}\t1.${n}.0\t${n + 1}\t${pushedAt(a, n)}\tbench\t{"lr":0.001}\t1\t${n}\t0`;
    },
  );
  const checked = await client.query(
    "SELECT count(*)::int AS n, max(id)::int AS top FROM versions WHERE id = (artifact_id - 1) * $1 + seq",
    [VERSIONS],
  );
  if (checked.rows[0].n !== ARTIFACTS * VERSIONS) throw new Error("the seeded ids are not in COPY order");
  const sha = randomBytes(32).toString("hex");
  await client.query(
    `INSERT INTO version_files (version_id, path, size, mode, sha256) SELECT id, 'model.bin', 1000000, 420, $1 FROM versions`,
    [sha],
  );
  await client.query(
    `INSERT INTO version_tags (version_id, key, value)
       SELECT id, 'team', 'team-' || (artifact_id % 100) FROM versions
       UNION ALL
       SELECT id, 'stage', (ARRAY['dev', 'candidate', 'staging', 'retired'])[1 + seq % 4] FROM versions`,
  );
  await client.query(
    `INSERT INTO version_metrics (version_id, key, value)
       SELECT id, 'accuracy', (hashtext(id::text) & 1048575) / 1048576.0 FROM versions
       UNION ALL
       SELECT id, 'loss', (hashtext('loss' || id) & 1048575) / 1048576.0 FROM versions`,
  );
  await client.query(
    `INSERT INTO aliases (artifact_id, alias, version_id, updated_at)
       SELECT artifact_id, 'production', max(id), $1 FROM versions GROUP BY artifact_id`,
    [at],
  );
  // What autovacuum does after a million inserts (PostgreSQL 13+ vacuums on inserts too): statistics, and the
  // visibility map that lets index-only scans skip the table.
  await client.query("VACUUM ANALYZE");
}

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

async function timeEach(label, run) {
  const ms = [];
  for (let i = 0; i < SAMPLES; i++) {
    const a = Math.floor(Math.random() * ARTIFACTS);
    const start = process.hrtime.bigint();
    await run(a);
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { label, p50: percentile(ms, 50), p95: percentile(ms, 95) };
}

function startServer(env) {
  const child = spawn(
    process.execPath,
    [CLI, "serve", "--port", "0", "--rate-limit", "off", "--log-level", "warn"],
    {
      env,
      // Its logs are not read: failed requests show in the load results, which end the bench.
      stdio: ["ignore", "pipe", "ignore"],
    },
  );
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const url = new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (piece) => {
      out += String(piece);
      const match = /listening on (http:\/\/\S+)\n/.exec(out);
      if (match) resolve(match[1]);
    });
    child.on("exit", (code) => reject(new Error(`cairn serve exited with ${code} before listening`)));
  });
  return { child, exited, url };
}

/** Requests per second resolving random artifacts' production aliases, connections spread over `urls`. */
async function resolveLoad(urls, seconds) {
  const perServer = Math.max(1, Math.floor(CONNECTIONS / urls.length));
  const results = await Promise.all(
    urls.map((url) =>
      autocannon({
        url,
        connections: perServer,
        duration: seconds,
        requests: [
          {
            setupRequest: (request) => ({
              ...request,
              path: `/api/v1/resolve/${encodeURIComponent(`model-${Math.floor(Math.random() * ARTIFACTS)}@production`)}`,
            }),
          },
        ],
      }),
    ),
  );
  for (const r of results) {
    if (r.non2xx > 0 || r.errors > 0)
      throw new Error(`resolve load: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  }
  return results.reduce((sum, r) => sum + r.requests.average, 0);
}

async function main() {
  const name = REUSE || `cairn_bench_scale_${process.pid}_${randomBytes(3).toString("hex")}`;
  const admin = new pg.Client({ connectionString: SERVER_URL, connectionTimeoutMillis: 5000 });
  await admin.connect();
  if (!REUSE) await admin.query(`CREATE DATABASE ${name}`);
  const url = withDatabase(SERVER_URL, name);
  const home = mkdtempSync(join(tmpdir(), "cairn-bench-scale-"));
  const servers = [];
  let store;
  try {
    const { openStore } = await import(join(REPO, "packages", "storage", "dist", "index.js"));
    const { Registry } = await import(join(REPO, "packages", "core", "dist", "index.js"));
    // Opening the store creates cairn's schema in the empty database.
    store = await openStore({ home, databaseUrl: url });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    if (REUSE) console.log(`measuring the database seeded earlier: ${name}`);
    else {
      const started = process.hrtime.bigint();
      console.log(`seeding ${ARTIFACTS} artifacts × ${VERSIONS} versions into ${name} ...`);
      await seed(client);
      console.log(`  seeded in ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s`);
    }

    const registry = new Registry({ meta: store.meta, content: store.content, actor: "bench" });
    const queries = [
      ["list one artifact's versions (metadata store)", (a) => store.meta.listVersions(`model-${a}`)],
      ["resolve name@production (Registry)", (a) => registry.resolve(`model-${a}@production`)],
      // Through the store's search port, the code path `cairn search` and GET /api/v1/search take.
      [
        "search by tag team=team-N, 50 newest (search port)",
        (a) => store.search.search({ query: `tags.team = 'team-${a % 100}'`, kind: "versions" }),
      ],
      [
        "search by metric accuracy > x, best 50 (search port)",
        (a) =>
          store.search.search({
            query: `metrics.accuracy > ${(a % 90) / 100} order by metrics.accuracy desc`,
            kind: "versions",
          }),
      ],
    ];
    const rows = [["query", "p50 ms", "p95 ms", "goal p95", "ok"]];
    for (const [label, run] of queries) {
      for (let i = 0; i < 20; i++) await run(i); // warm-up
      const r = await timeEach(label, run);
      rows.push([
        label,
        round3(r.p50, 2),
        round3(r.p95, 2),
        `< ${GOALS.p95_ms}`,
        r.p95 < GOALS.p95_ms ? "yes" : "NO",
      ]);
    }
    await client.end();
    await store.close();
    store = undefined;
    if (LATENCY_ONLY) {
      console.log(`\n${SAMPLES} samples each over ${ARTIFACTS * VERSIONS} versions (PostgreSQL, ${name}):\n`);
      console.log(table(rows));
      return;
    }

    const env = { ...process.env, CAIRN_DATABASE_URL: url, CAIRN_HOME: home, NO_COLOR: "1" };
    for (const v of ["CAIRN_URL", "CAIRN_TOKEN", "CAIRN_BLOB_URL", "CAIRN_DEBUG"]) delete env[v];
    servers.push(startServer(env));
    const first = await servers[0].url;
    await resolveLoad([first], 2);
    const one = await resolveLoad([first], DURATION);
    servers.push(startServer(env));
    const second = await servers[1].url;
    await resolveLoad([first, second], 2);
    const two = await resolveLoad([first, second], DURATION);

    console.log(`\n${SAMPLES} samples each over ${ARTIFACTS * VERSIONS} versions (PostgreSQL, ${name}):\n`);
    console.log(table(rows));
    console.log(
      `\nresolve over HTTP, ${CONNECTIONS} connections, ${DURATION} s, ${availableParallelism()} cores:\n`,
    );
    console.log(
      table([
        ["servers", "req/s", "ratio vs 1"],
        ["1", Math.round(one), "1.00"],
        ["2", Math.round(two), (two / one).toFixed(2)],
      ]),
    );
  } finally {
    for (const s of servers) {
      s.child.kill("SIGTERM");
      await s.exited;
    }
    if (store) await store.close();
    if (KEEP) console.log(`kept the database ${name} (BENCH_REUSE_DATABASE=${name} measures it again)`);
    else await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    rmSync(home, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
