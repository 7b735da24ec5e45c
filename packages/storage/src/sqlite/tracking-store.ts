/**
 * @module The SQLite tracking store: runs, params, metric points, tags, inputs and logged artifacts, in the
 * metadata database (so a run's artifacts are garbage-collection roots and its writes share one write lock).
 * A batch of metric points is one transaction and a few multi-row inserts.
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
import type { Connection } from "./_connection.js";
import { isUniqueViolation } from "./_errors.js";
import { insertAudit } from "./_queries.js";
import { decodeMetric, encodeMetric, type MetricRow, parseCode, parseJson, parseObject } from "./_rows.js";

/** A run row as SQLite returns it: JSON columns as text. */
type StoredRunRow = Omit<RunRow, "code" | "environment"> & {
  code: string | null;
  environment: string | null;
};

// Rows per multi-row insert: 5 values a row stays far below SQLite's 32,766 bound on parameters.
const ROWS_PER_INSERT = [256, 32, 1] as const;
const METRIC_COLUMNS = 5;

interface PointRow {
  seq: number;
  step: number;
  timestamp: number;
  value: number | null;
  special: "NaN" | "-0" | null;
}

export class SqliteTrackingStore implements TrackingStore {
  private readonly c: Connection;

  /** Use `SqliteMetadataStore.tracking()`, which shares its connection. */
  constructor(connection: Connection) {
    this.c = connection;
  }

  createRun(run: NewRun, audit: NewAuditEvent): Promise<Run> {
    return this.c.write(`cannot start run ${run.id}`, () => {
      this.c
        .sql("INSERT INTO experiments (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING")
        .run(run.experiment, run.startTime);
      const experiment = this.c
        .sql<{ id: number }>("SELECT id FROM experiments WHERE name = ?")
        .get(run.experiment);
      try {
        this.c
          .sql(
            `INSERT INTO runs (id, experiment_id, name, status, start_time, end_time, created_by, code,
                               environment, command)
             VALUES (?, ?, ?, 'running', ?, NULL, ?, ?, ?, ?)`,
          )
          .run(
            run.id,
            experiment?.id,
            run.name,
            run.startTime,
            run.createdBy,
            run.code === null ? null : JSON.stringify(run.code),
            run.environment === null ? null : JSON.stringify(run.environment),
            run.command,
          );
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`run ${run.id} already exists`);
        throw error;
      }
      const param = this.c.sql("INSERT INTO run_params (run_id, key, value) VALUES (?, ?, ?)");
      for (const [key, value] of Object.entries(run.params)) param.run(run.id, key, JSON.stringify(value));
      const tag = this.c.sql("INSERT INTO run_tags (run_id, key, value) VALUES (?, ?, ?)");
      for (const [key, value] of Object.entries(run.tags)) tag.run(run.id, key, value);
      const input = this.c.sql("INSERT OR IGNORE INTO run_inputs (run_id, ref, path) VALUES (?, ?, ?)");
      for (const ref of run.data) input.run(run.id, ref, run.dataPaths?.[ref] ?? null);
      const lock = this.c.sql("INSERT INTO run_lock_files (run_id, path, sha256) VALUES (?, ?, ?)");
      for (const [path, sha256] of Object.entries(run.lockFiles)) lock.run(run.id, path, sha256);
      insertAudit(this.c, audit);
      return this.load(run.id);
    });
  }

  getRun(id: string): Promise<Run | null> {
    return this.c.read(`cannot read run ${id}`, () => (this.row(id) === undefined ? null : this.load(id)));
  }

  listRuns(query: RunQuery): Promise<RunSummary[]> {
    const { experiment, status, limit, beforeId } = query;
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
      return Promise.reject(invalid(`invalid run list limit ${limit}: give a whole number ≥ 0`));
    }
    return this.c.read("cannot list runs", () => {
      const where: string[] = [];
      const params: unknown[] = [];
      if (experiment !== undefined) {
        where.push("e.name = ?");
        params.push(experiment);
      }
      if (status !== undefined) {
        where.push("r.status = ?");
        params.push(status);
      }
      if (beforeId !== undefined) {
        where.push("r.id < ?");
        params.push(beforeId);
      }
      params.push(limit ?? -1);
      const rows = this.c
        .sql<StoredRunRow>(
          `${RUN_SELECT} ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY r.id DESC LIMIT ?`,
        )
        .all(...params);
      return rows.map((row) => toRunSummary(parsed(row), this.latestMetrics(row.id)));
    });
  }

  logToRun(id: string, batch: RunBatch): Promise<void> {
    return this.c.write(`cannot log to run ${id}`, () => {
      const run = this.requireRun(id);
      const params = Object.entries(batch.params ?? {});
      const points = batch.metrics ?? [];
      if ((params.length > 0 || points.length > 0) && run.status !== "running") {
        throw conflict(`run ${id} has ${run.status}: params and metrics can no longer be logged to it`, {
          hint: "start a new run",
        });
      }
      if (params.length > 0) this.insertParams(id, params);
      if (points.length > 0) this.insertPoints(this.seriesOf(id, points), points);
      const tag = this.c.sql(
        `INSERT INTO run_tags (run_id, key, value) VALUES (?, ?, ?)
         ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value`,
      );
      for (const [key, value] of Object.entries(batch.tags ?? {})) tag.run(id, key, value);
    });
  }

  addRunArtifacts(id: string, files: FileEntry[], audit: NewAuditEvent): Promise<Run> {
    return this.c.write(`cannot log artifacts to run ${id}`, () => {
      const run = this.requireRun(id);
      if (run.status !== "running") {
        throw conflict(`run ${id} has ${run.status}: artifacts can no longer be logged to it`);
      }
      const insert = this.c.sql(
        `INSERT INTO run_artifacts (run_id, path, size, mode, sha256) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (run_id, path) DO UPDATE SET size = excluded.size, mode = excluded.mode, sha256 = excluded.sha256`,
      );
      for (const f of files) insert.run(id, f.path, f.size, f.mode, f.sha256);
      insertAudit(this.c, audit);
      return this.load(id);
    });
  }

  endRun(id: string, status: RunStatus, endTime: string, audit: NewAuditEvent): Promise<Run> {
    return this.c.write(`cannot end run ${id}`, () => {
      const run = this.requireRun(id);
      if (run.status !== "running") throw conflict(`run ${id} has already ${run.status}`);
      this.c.sql("UPDATE runs SET status = ?, end_time = ? WHERE id = ?").run(status, endTime, id);
      insertAudit(this.c, audit);
      return this.load(id);
    });
  }

  metricHistory(id: string, query: MetricHistoryQuery): Promise<MetricHistoryPage> {
    const after = query.cursor === undefined ? undefined : decodeHistoryCursor(query.cursor);
    return this.c.read(`cannot read the history of ${query.key} in run ${id}`, () => {
      const series = this.c
        .sql<{ id: number }>("SELECT id FROM run_metric_series WHERE run_id = ? AND key = ?")
        .get(id, query.key);
      if (series === undefined) return { points: [], nextCursor: null };
      // One more than asked: whether it exists says whether there is a next page.
      const rows =
        after === undefined
          ? this.c
              .sql<PointRow>(
                `SELECT rowid AS seq, step, timestamp, value, special FROM run_metrics
                 WHERE series_id = ? ORDER BY step, rowid LIMIT ?`,
              )
              .all(series.id, query.limit + 1)
          : this.c
              .sql<PointRow>(
                `SELECT rowid AS seq, step, timestamp, value, special FROM run_metrics
                 WHERE series_id = ? AND (step, rowid) > (?, ?) ORDER BY step, rowid LIMIT ?`,
              )
              .all(series.id, after[0], after[1], query.limit + 1);
      const more = rows.length > query.limit;
      const page = more ? rows.slice(0, query.limit) : rows;
      const last = page[page.length - 1];
      const key = query.key;
      return {
        points: page.map((r) => ({ key, value: decodeMetric(r), step: r.step, timestamp: r.timestamp })),
        nextCursor: more && last !== undefined ? encodeHistoryCursor(last.step, last.seq) : null,
      };
    });
  }

  // ── inside a transaction ──────────────────────────────────────────────────────────────────────────────

  private row(id: string): RunRow | undefined {
    const row = this.c.sql<StoredRunRow>(`${RUN_SELECT} WHERE r.id = ?`).get(id);
    return row === undefined ? undefined : parsed(row);
  }

  private requireRun(id: string): Pick<RunRow, "id" | "status"> {
    const row = this.c.sql<Pick<RunRow, "id" | "status">>("SELECT id, status FROM runs WHERE id = ?").get(id);
    if (row === undefined) throw notFound(`no run ${id}`, { hint: "see `cairn run list`" });
    return row;
  }

  private insertParams(id: string, params: [string, string][]): void {
    const insert = this.c.sql(
      "INSERT INTO run_params (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    );
    const stored = this.c.sql<{ value: string }>("SELECT value FROM run_params WHERE run_id = ? AND key = ?");
    for (const [key, text] of params) {
      if (insert.run(id, key, text).changes > 0) continue;
      const before = stored.get(id, key)?.value;
      if (before !== text) {
        throw conflict(`param ${key} of run ${id} is already ${before}; params are written once`, {
          hint: "log the new value under another name, or start a new run",
        });
      }
    }
  }

  /**
   * The series id of each metric in the batch (created on first use), with each series' last point moved
   * forward: the highest step wins, and on a tie the point logged later.
   */
  private seriesOf(id: string, points: MetricPoint[]): Map<string, number> {
    const find = this.c.sql<{ id: number; step: number }>(
      "SELECT id, step FROM run_metric_series WHERE run_id = ? AND key = ?",
    );
    const create = this.c.sql(
      `INSERT INTO run_metric_series (run_id, key, step, timestamp, value, special) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    const advance = this.c.sql(
      "UPDATE run_metric_series SET step = ?, timestamp = ?, value = ?, special = ? WHERE id = ?",
    );
    const ids = new Map<string, number>();
    for (const p of lastPoints(points)) {
      const key = p.key;
      const stored = encodeMetric(p.value);
      const held = find.get(id, key);
      if (held === undefined) {
        const result = create.run(id, key, p.step, p.timestamp, stored.value, stored.special);
        ids.set(key, Number(result.lastInsertRowid));
      } else {
        if (p.step >= held.step) advance.run(p.step, p.timestamp, stored.value, stored.special, held.id);
        ids.set(key, held.id);
      }
    }
    return ids;
  }

  /**
   * Inserts the points grouped by metric and step (a stable sort, so points of one step keep their logging
   * order): consecutive index entries then land on the same page, which is several times faster than
   * jumping between metrics on every row.
   */
  private insertPoints(series: Map<string, number>, points: MetricPoint[]): void {
    const rows = points
      .map((p) => ({ p, series: series.get(p.key) as number }))
      .sort((a, b) => a.series - b.series || a.p.step - b.p.step);
    let at = 0;
    for (const size of ROWS_PER_INSERT) {
      const statement = this.c.sql(
        `INSERT INTO run_metrics (series_id, step, timestamp, value, special) VALUES ${Array(size)
          .fill("(?, ?, ?, ?, ?)")
          .join(", ")}`,
      );
      const values: unknown[] = new Array(size * METRIC_COLUMNS);
      while (rows.length - at >= size) {
        for (let i = 0; i < size; i++) {
          const { p, series: seriesId } = rows[at + i] as { p: MetricPoint; series: number };
          const stored = encodeMetric(p.value);
          const o = i * METRIC_COLUMNS;
          values[o] = seriesId;
          values[o + 1] = p.step;
          values[o + 2] = p.timestamp;
          values[o + 3] = stored.value;
          values[o + 4] = stored.special;
        }
        statement.run(...values);
        at += size;
      }
    }
  }

  private latestMetrics(id: string): Record<string, number> {
    const metrics: Record<string, number> = {};
    for (const m of this.c
      .sql<MetricRow>("SELECT key, value, special FROM run_metric_series WHERE run_id = ? ORDER BY key")
      .iterate(id)) {
      metrics[m.key] = decodeMetric(m);
    }
    return metrics;
  }

  private load(id: string): Run {
    const row = this.row(id);
    if (row === undefined) throw notFound(`no run ${id}`);
    const params: Run["params"] = {};
    for (const p of this.c
      .sql<{ key: string; value: string }>("SELECT key, value FROM run_params WHERE run_id = ? ORDER BY key")
      .iterate(id)) {
      params[p.key] = parseJson(p.value);
    }
    const tags: Record<string, string> = {};
    for (const t of this.c
      .sql<{ key: string; value: string }>("SELECT key, value FROM run_tags WHERE run_id = ? ORDER BY key")
      .iterate(id)) {
      tags[t.key] = t.value;
    }
    return toRun(row, {
      params,
      metrics: this.latestMetrics(id),
      tags,
      inputs: this.c
        .sql<{ ref: string; path: string | null }>(
          "SELECT ref, path FROM run_inputs WHERE run_id = ? ORDER BY rowid",
        )
        .all(id),
      artifacts: this.c
        .sql<FileEntry>("SELECT path, size, mode, sha256 FROM run_artifacts WHERE run_id = ? ORDER BY path")
        .all(id),
      outputs: this.c
        .sql<{ ref: string }>(
          `SELECT a.name || '@' || v.version AS ref FROM versions v JOIN artifacts a ON a.id = v.artifact_id
           WHERE v.run = ? ORDER BY v.id`,
        )
        .all(id)
        .map((o) => o.ref),
    });
  }
}

const parsed = (row: StoredRunRow): RunRow => ({
  ...row,
  code: parseCode(row.code),
  environment: parseObject(row.environment),
});
