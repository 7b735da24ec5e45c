/**
 * @module The tracking store interface: runs, their params, metric points, tags, data inputs and logged
 * artifacts. Drivers (SQLite, PostgreSQL) implement it next to the metadata store, in the same database, so
 * a run's artifacts are roots of garbage collection (`MetadataStore.listLiveContent`) and a version can name
 * the run that made it. Every method is one transaction.
 */
import type { FileEntry, MetricPoint, NewAuditEvent, Run, RunStatus, RunSummary } from "../types.js";

/** A run as core hands it to the driver. */
export interface NewRun
  extends Omit<Run, "metrics" | "artifacts" | "outputs" | "endTime" | "status" | "dataPaths"> {
  /** Lock files' contents (sha256) the run's environment names, kept alive by garbage collection. */
  lockFiles: Record<string, string>;
  /** Where each of `data` sat (see `Run.dataPaths`); absent, none recorded. */
  dataPaths?: Record<string, string>;
}

/**
 * One batch of writes to a run, applied whole or not at all. Params are given as canonical JSON text
 * (`canonicalJson`), so the driver compares a re-logged param by text: the same value again is fine, another
 * is CONFLICT.
 */
export interface RunBatch {
  params?: Record<string, string>;
  metrics?: MetricPoint[];
  tags?: Record<string, string>;
}

export interface RunQuery {
  experiment?: string;
  status?: RunStatus;
  limit?: number;
  /** Only runs with a smaller id (for paging newest-first). */
  beforeId?: string;
}

export interface MetricHistoryQuery {
  key: string;
  limit: number;
  /** A `nextCursor` from the previous page. */
  cursor?: string;
}

/** Points in (step, logging order) order, and the cursor of the next page (null on the last). */
export interface MetricHistoryPage {
  points: MetricPoint[];
  nextCursor: string | null;
}

export interface TrackingStore {
  /** Records a run, creating its experiment if new; an id already taken is CONFLICT (core draws another). */
  createRun(run: NewRun, audit: NewAuditEvent): Promise<Run>;
  getRun(id: string): Promise<Run | null>;
  /** Newest first. */
  listRuns(query: RunQuery): Promise<RunSummary[]>;
  /**
   * Applies a batch: NOT_FOUND for an unknown run; CONFLICT when params or metrics go to a run that has
   * ended, or a param already logged is given another value. Tags may change at any time.
   */
  logToRun(id: string, batch: RunBatch): Promise<void>;
  /** Adds (or replaces, by path) logged files whose content is in the content store; CONFLICT once ended. */
  addRunArtifacts(id: string, files: FileEntry[], audit: NewAuditEvent): Promise<Run>;
  /** Ends a running run; CONFLICT when it has ended already. */
  endRun(id: string, status: RunStatus, endTime: string, audit: NewAuditEvent): Promise<Run>;
  /** One metric's points, paged. */
  metricHistory(id: string, query: MetricHistoryQuery): Promise<MetricHistoryPage>;
}
