/**
 * @module The PostgreSQL tracking store: runs, params, metric points, tags, inputs and logged artifacts, in the
 * metadata database. A metric batch is one transaction: the series (one per metric of a run, with its last
 * point) upserted in one statement, then every point in one multi-row insert of unnested arrays. Logging
 * holds a share lock on the run's row and ending it updates the row, so no point lands after a run ended.
 * Writes that make content live (lock files, patches, artifacts) hold the garbage-collection lock shared.
 */
import {
  conflict,
  decodeHistoryCursor,
  encodeHistoryCursor,
  type FileEntry,
  invalid,
  lastPoints,
  type MetricHistoryPage,
  type MetricHistoryQuery,
  type MetricPoint,
  type NewAuditEvent,
  type NewRun,
  notFound,
  type Run,
  type RunBatch,
  type RunQuery,
  type RunStatus,
  type RunSummary,
  type TrackingStore,
} from "@cairn/core";
import { RUN_SELECT, type RunRow, toRun, toRunSummary } from "../_run-rows.js";
import { decodeMetric, encodeMetric, type MetricRow } from "../sqlite/_rows.js";
import type { Database, Sql } from "./_database.js";
import { isUniqueViolation } from "./_errors.js";
import { GC_LOCK_SHARED } from "./_locks.js";
import { insertAudit } from "./_queries.js";

type Reader = Pick<Sql, "rows" | "maybe">;

export class PostgresTrackingStore implements TrackingStore {
  private readonly db: Database;

  /** Use `PostgresMetadataStore.tracking()`, which shares its pool. */
  constructor(db: Database) {
    this.db = db;
  }

  createRun(run: NewRun, audit: NewAuditEvent): Promise<Run> {
    return this.db.write(`cannot start run ${run.id}`, async (sql) => {
      await sql.run(GC_LOCK_SHARED);
      await sql.run(
        "INSERT INTO experiments (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        [run.experiment, run.startTime],
      );
      const experiment = await sql.maybe<{ id: number }>("SELECT id FROM experiments WHERE name = $1", [
        run.experiment,
      ]);
      try {
        await sql.run(
          `INSERT INTO runs (id, experiment_id, name, status, start_time, end_time, created_by, code, environment,
                             command)
           VALUES ($1, $2, $3, 'running', $4, NULL, $5, $6::json, $7::json, $8)`,
          [
            run.id,
            experiment?.id,
            run.name,
            run.startTime,
            run.createdBy,
            run.code === null ? null : JSON.stringify(run.code),
            run.environment === null ? null : JSON.stringify(run.environment),
            run.command,
          ],
        );
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`run ${run.id} already exists`);
        throw error;
      }
      const params = Object.entries(run.params).map(([k, v]) => [k, JSON.stringify(v)] as const);
      if (params.length > 0) {
        await sql.run(
          "INSERT INTO run_params (run_id, key, value) SELECT $1, * FROM unnest($2::text[], $3::text[])",
          [run.id, params.map(([k]) => k), params.map(([, v]) => v)],
        );
      }
      await this.upsertTags(sql, run.id, run.tags);
      if (run.data.length > 0) {
        await sql.run(
          `INSERT INTO run_inputs (run_id, ord, ref, path)
           SELECT $1, d.ord, d.ref, d.path FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS d (ref, path, ord)
           ORDER BY d.ord ON CONFLICT (run_id, ref) DO NOTHING`,
          [run.id, run.data, run.data.map((ref) => run.dataPaths?.[ref] ?? null)],
        );
      }
      const locks = Object.entries(run.lockFiles);
      if (locks.length > 0) {
        await sql.run(
          "INSERT INTO run_lock_files (run_id, path, sha256) SELECT $1, * FROM unnest($2::text[], $3::text[])",
          [run.id, locks.map(([p]) => p), locks.map(([, s]) => s)],
        );
      }
      await insertAudit(sql, audit);
      return load(sql, run.id);
    });
  }

  getRun(id: string): Promise<Run | null> {
    return this.db.read(`cannot read run ${id}`, async (sql) =>
      (await sql.maybe("SELECT 1 FROM runs WHERE id = $1", [id])) === undefined ? null : load(sql, id),
    );
  }

  listRuns(query: RunQuery): Promise<RunSummary[]> {
    const { experiment, status, limit, beforeId } = query;
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
      return Promise.reject(invalid(`invalid run list limit ${limit}: give a whole number ≥ 0`));
    }
    return this.db.read("cannot list runs", async (sql) => {
      const where: string[] = [];
      const values: unknown[] = [];
      const add = (clause: string, value: unknown) => {
        values.push(value);
        where.push(clause.replace("?", `$${values.length}`));
      };
      if (experiment !== undefined) add("e.name = ?", experiment);
      if (status !== undefined) add("r.status = ?", status);
      if (beforeId !== undefined) add("r.id < ?", beforeId);
      values.push(limit ?? null);
      const rows = await sql.rows<RunRow>(
        `${RUN_SELECT} ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
         ORDER BY r.id DESC LIMIT $${values.length}`,
        values,
      );
      const metrics = new Map<string, Record<string, number>>(rows.map((r) => [r.id, {}]));
      if (rows.length > 0) {
        for (const m of await sql.rows<MetricRow & { run_id: string }>(
          `SELECT run_id, key, value, special FROM run_metric_series WHERE run_id = ANY ($1::text[]) ORDER BY key`,
          [rows.map((r) => r.id)],
        )) {
          const into = metrics.get(m.run_id);
          if (into) into[m.key] = decodeMetric(m);
        }
      }
      return rows.map((row) => toRunSummary(row, metrics.get(row.id) ?? {}));
    });
  }

  logToRun(id: string, batch: RunBatch): Promise<void> {
    return this.db.write(`cannot log to run ${id}`, async (sql) => {
      const params = Object.entries(batch.params ?? {});
      const points = batch.metrics ?? [];
      // A share lock: loggers run side by side, and ending the run (an update of this row) waits for them.
      const run = await sql.maybe<{ status: RunStatus }>("SELECT status FROM runs WHERE id = $1 FOR SHARE", [
        id,
      ]);
      if (run === undefined) throw notFound(`no run ${id}`, { hint: "see `cairn run list`" });
      if ((params.length > 0 || points.length > 0) && run.status !== "running") {
        throw conflict(`run ${id} has ${run.status}: params and metrics can no longer be logged to it`, {
          hint: "start a new run",
        });
      }
      if (params.length > 0) await this.insertParams(sql, id, params);
      if (points.length > 0) await this.insertPoints(sql, id, points);
      await this.upsertTags(sql, id, batch.tags ?? {});
    });
  }

  addRunArtifacts(id: string, files: FileEntry[], audit: NewAuditEvent): Promise<Run> {
    return this.db.write(`cannot log artifacts to run ${id}`, async (sql) => {
      await sql.run(GC_LOCK_SHARED);
      const run = await sql.maybe<{ status: RunStatus }>("SELECT status FROM runs WHERE id = $1 FOR SHARE", [
        id,
      ]);
      if (run === undefined) throw notFound(`no run ${id}`, { hint: "see `cairn run list`" });
      if (run.status !== "running") {
        throw conflict(`run ${id} has ${run.status}: artifacts can no longer be logged to it`);
      }
      await sql.run(
        `INSERT INTO run_artifacts (run_id, path, size, mode, sha256)
         SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::integer[], $5::text[])
         ON CONFLICT (run_id, path) DO UPDATE SET size = excluded.size, mode = excluded.mode, sha256 = excluded.sha256`,
        [
          id,
          files.map((f) => f.path),
          files.map((f) => f.size),
          files.map((f) => f.mode),
          files.map((f) => f.sha256),
        ],
      );
      await insertAudit(sql, audit);
      return load(sql, id);
    });
  }

  endRun(id: string, status: RunStatus, endTime: string, audit: NewAuditEvent): Promise<Run> {
    return this.db.write(`cannot end run ${id}`, async (sql) => {
      const ended = await sql.run(
        "UPDATE runs SET status = $2, end_time = $3 WHERE id = $1 AND status = 'running'",
        [id, status, endTime],
      );
      if (ended === 0) {
        const run = await sql.maybe<{ status: RunStatus }>("SELECT status FROM runs WHERE id = $1", [id]);
        if (run === undefined) throw notFound(`no run ${id}`, { hint: "see `cairn run list`" });
        throw conflict(`run ${id} has already ${run.status}`);
      }
      await insertAudit(sql, audit);
      return load(sql, id);
    });
  }

  metricHistory(id: string, query: MetricHistoryQuery): Promise<MetricHistoryPage> {
    const after = query.cursor === undefined ? undefined : decodeHistoryCursor(query.cursor);
    return this.db.read(`cannot read the history of ${query.key} in run ${id}`, async (sql) => {
      const series = await sql.maybe<{ id: number }>(
        "SELECT id FROM run_metric_series WHERE run_id = $1 AND key = $2",
        [id, query.key],
      );
      if (series === undefined) return { points: [], nextCursor: null };
      // One more than asked: whether it exists says whether there is a next page.
      const rows = await sql.rows<MetricRow & { step: number; seq: number; timestamp: number }>(
        `SELECT step, seq, timestamp, value, special FROM run_metrics
         WHERE series_id = $1 AND (step, seq) > ($2, $3) ORDER BY step, seq LIMIT $4`,
        [series.id, after?.[0] ?? Number.MIN_SAFE_INTEGER, after?.[1] ?? -1, query.limit + 1],
      );
      const more = rows.length > query.limit;
      const page = more ? rows.slice(0, query.limit) : rows;
      const last = page[page.length - 1];
      return {
        points: page.map((r) => ({
          key: query.key,
          value: decodeMetric(r),
          step: r.step,
          timestamp: r.timestamp,
        })),
        nextCursor: more && last !== undefined ? encodeHistoryCursor(last.step, last.seq) : null,
      };
    });
  }

  // ── inside a transaction ──────────────────────────────────────────────────────────────────────────────

  private async upsertTags(sql: Sql, id: string, tags: Record<string, string>): Promise<void> {
    const entries = Object.entries(tags);
    if (entries.length === 0) return;
    await sql.run(
      `INSERT INTO run_tags (run_id, key, value) SELECT $1, * FROM unnest($2::text[], $3::text[])
       ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value`,
      [id, entries.map(([k]) => k), entries.map(([, v]) => v)],
    );
  }

  private async insertParams(sql: Sql, id: string, params: [string, string][]): Promise<void> {
    await sql.run(
      `INSERT INTO run_params (run_id, key, value) SELECT $1, * FROM unnest($2::text[], $3::text[])
       ON CONFLICT (run_id, key) DO NOTHING`,
      [id, params.map(([k]) => k), params.map(([, v]) => v)],
    );
    const stored = new Map(
      (
        await sql.rows<{ key: string; value: string }>(
          "SELECT key, value FROM run_params WHERE run_id = $1 AND key = ANY ($2::text[])",
          [id, params.map(([k]) => k)],
        )
      ).map((r) => [r.key, r.value]),
    );
    for (const [key, text] of params) {
      const before = stored.get(key);
      if (before !== text) {
        throw conflict(`param ${key} of run ${id} is already ${before}; params are written once`, {
          hint: "log the new value under another name, or start a new run",
        });
      }
    }
  }

  /**
   * Upserts each metric's series with its last point in the batch (moving it only forward: the highest step
   * wins, a tie goes to the later point), then inserts every point in logging order.
   */
  private async insertPoints(sql: Sql, id: string, points: MetricPoint[]): Promise<void> {
    const tops = lastPoints(points).map((p) => ({ ...p, ...encodeMetric(p.value) }));
    const newer = "excluded.step >= run_metric_series.step";
    const series = await sql.rows<{ id: number; key: string }>(
      `INSERT INTO run_metric_series (run_id, key, step, timestamp, value, special)
       SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::double precision[], $6::text[])
       ON CONFLICT (run_id, key) DO UPDATE SET
         step = CASE WHEN ${newer} THEN excluded.step ELSE run_metric_series.step END,
         timestamp = CASE WHEN ${newer} THEN excluded.timestamp ELSE run_metric_series.timestamp END,
         value = CASE WHEN ${newer} THEN excluded.value ELSE run_metric_series.value END,
         special = CASE WHEN ${newer} THEN excluded.special ELSE run_metric_series.special END
       RETURNING id, key`,
      [
        id,
        tops.map((p) => p.key),
        tops.map((p) => p.step),
        tops.map((p) => p.timestamp),
        tops.map((p) => p.value),
        tops.map((p) => p.special),
      ],
    );
    const ids = new Map(series.map((s) => [s.key, s.id]));
    const n = points.length;
    const seriesIds = new Array<number>(n);
    const steps = new Array<number>(n);
    const times = new Array<number>(n);
    const values = new Array<number | null>(n);
    const specials = new Array<string | null>(n);
    for (let i = 0; i < n; i++) {
      const p = points[i] as MetricPoint;
      const stored = encodeMetric(p.value);
      seriesIds[i] = ids.get(p.key) as number;
      steps[i] = p.step;
      times[i] = p.timestamp;
      values[i] = stored.value;
      specials[i] = stored.special;
    }
    // ORDER BY the array position: the identity `seq` then follows the logging order.
    await sql.run(
      `INSERT INTO run_metrics (series_id, step, timestamp, value, special)
       SELECT m.series_id, m.step, m.timestamp, m.value, m.special
       FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::double precision[], $5::text[])
         WITH ORDINALITY AS m (series_id, step, timestamp, value, special, ord)
       ORDER BY m.ord`,
      [seriesIds, steps, times, values, specials],
    );
  }
}

async function load(sql: Reader, id: string): Promise<Run> {
  const row = await sql.maybe<RunRow>(`${RUN_SELECT} WHERE r.id = $1`, [id]);
  if (row === undefined) throw notFound(`no run ${id}`);
  const params: Run["params"] = {};
  for (const p of await sql.rows<{ key: string; value: string }>(
    "SELECT key, value FROM run_params WHERE run_id = $1 ORDER BY key",
    [id],
  )) {
    params[p.key] = JSON.parse(p.value);
  }
  const metrics: Record<string, number> = {};
  for (const m of await sql.rows<MetricRow>(
    "SELECT key, value, special FROM run_metric_series WHERE run_id = $1 ORDER BY key",
    [id],
  )) {
    metrics[m.key] = decodeMetric(m);
  }
  const tags: Record<string, string> = {};
  for (const t of await sql.rows<{ key: string; value: string }>(
    "SELECT key, value FROM run_tags WHERE run_id = $1 ORDER BY key",
    [id],
  )) {
    tags[t.key] = t.value;
  }
  return toRun(row, {
    params,
    metrics,
    tags,
    inputs: await sql.rows<{ ref: string; path: string | null }>(
      "SELECT ref, path FROM run_inputs WHERE run_id = $1 ORDER BY ord",
      [id],
    ),
    artifacts: await sql.rows<FileEntry>(
      "SELECT path, size, mode, sha256 FROM run_artifacts WHERE run_id = $1 ORDER BY path",
      [id],
    ),
    outputs: (
      await sql.rows<{ ref: string }>(
        `SELECT a.name || '@' || v.version AS ref FROM versions v JOIN artifacts a ON a.id = v.artifact_id
         WHERE v.run = $1 ORDER BY v.id`,
        [id],
      )
    ).map((o) => o.ref),
  });
}
