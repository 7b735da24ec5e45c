/**
 * @module Experiment tracking from a script: `client.startRun()` returns a `Run` handle whose methods log
 * params (write-once), metrics (`logMetrics({loss: 0.3}, step)`), tags and artifacts, then `end()` it.
 * Metric values travel as core's JSON encoding, so NaN and ±Infinity arrive as they were logged.
 */
import {
  invalid,
  type JsonObject,
  type MetricHistoryPage,
  type MetricPoint,
  type MetricPointInput,
  metricFromJson,
  type RunStatus,
  type RunSummary,
  type RunView,
  type StartRunInput,
  seriesFromPoints,
  type VersionView,
} from "@cairn/core";
import { type ChunkFile, chunkFile } from "./chunk-file.js";
import { type Http, segment } from "./http.js";
import {
  earlierChunkLists,
  type PushFile,
  type TransferSettings,
  uploadFiles,
  versionToBuildOn,
} from "./push.js";
import { type Page, type PageOptions, reviveVersion } from "./types.js";

export type { RunStatus, RunSummary, RunView };

/**
 * What `startRun` takes: core's StartRunInput, plus the bytes of the code patch and of lock files, which are
 * uploaded first (as deduplicated chunks) and recorded by sha256. Git and environment capture are the
 * caller's: the CLI's `cairn run start` does both.
 */
export interface StartRunOptions extends Omit<StartRunInput, "lockFiles"> {
  /** The uncommitted diff; `code` must be given, and its `patch` becomes this content's sha256. */
  patch?: Uint8Array;
  /** Lock file name → its bytes. */
  lockFiles?: Record<string, Uint8Array>;
}

export interface RunListOptions extends PageOptions {
  experiment?: string;
  status?: RunStatus;
}

export interface PromoteRunOptions {
  /** The model's name. */
  name: string;
  /** The model's files; left out, the run's logged artifacts become the version's files. */
  files?: PushFile[];
  version?: string;
  bump?: "major" | "minor" | "patch" | "prerelease";
  notes?: string;
  tags?: Record<string, string>;
  aliases?: string[];
  /** A ref of the model it derives from; the server stores the exact version it names now. */
  base?: string;
}

// Names the patch and lock files travel under in their upload (only their contents are kept).
const PATCH_FILE = "code.patch";
const LOCK_FOLDER = "lock-files";

/** The wire's metric values (numbers, or "NaN", "Infinity", "-Infinity") as numbers again. */
function reviveMetrics(metrics: Record<string, unknown>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, metricFromJson(v as number)]));
}
const reviveRun = <T extends RunView | RunSummary>(run: T): T => ({
  ...run,
  metrics: reviveMetrics(run.metrics),
});

/** The run routes, for `CairnClient` and the `Run` handle. */
export class RunApi {
  constructor(
    private readonly http: Http,
    private readonly transfer: TransferSettings,
    private readonly chunker: ChunkFile | undefined,
  ) {}

  async start(options: StartRunOptions = {}): Promise<Run> {
    const { patch, lockFiles = {}, ...input } = options;
    if (patch !== undefined && !input.code)
      throw invalid("a code patch needs the code it applies to (`code`)");
    const files = [
      ...(patch !== undefined ? [{ path: PATCH_FILE, source: patch }] : []),
      ...Object.entries(lockFiles).map(([name, bytes]) => ({
        path: `${LOCK_FOLDER}/${name}`,
        source: bytes,
      })),
    ];
    const post = (json: object) => this.http.json<RunView>("POST", "/runs", { json });
    let view: RunView;
    if (files.length === 0) view = await post(input);
    else {
      ({ result: view } = await uploadFiles(
        this.http,
        { files, chunker: this.chunkerOrDefault() },
        this.transfer,
        (upload, entries) => {
          const sha = (path: string) => entries.find((e) => e.path === path)?.sha256 ?? "";
          const locks = Object.fromEntries(
            Object.keys(lockFiles).map((n) => [n, sha(`${LOCK_FOLDER}/${n}`)]),
          );
          const code =
            input.code && patch !== undefined ? { ...input.code, patch: sha(PATCH_FILE) } : input.code;
          return post({ ...input, ...(code !== undefined ? { code } : {}), lockFiles: locks, upload });
        },
      ));
    }
    view = reviveRun(view);
    return new Run(this, view.id, view);
  }

  /** A handle on a run that already exists (started elsewhere), without a request. */
  handle(id: string): Run {
    return new Run(this, id, undefined);
  }

  async get(id: string): Promise<RunView> {
    return reviveRun(await this.http.json<RunView>("GET", `/runs/${segment(id)}`));
  }

  async list(options: RunListOptions = {}): Promise<Page<RunSummary>> {
    const page = await this.http.json<Page<RunSummary>>("GET", "/runs", {
      query: {
        experiment: options.experiment,
        status: options.status,
        limit: options.limit,
        cursor: options.cursor,
      },
    });
    return { ...page, items: page.items.map(reviveRun) };
  }

  /** Params, metric points and tags in one request (one transaction on the server). */
  async log(
    id: string,
    batch: { params?: JsonObject; metrics?: MetricPointInput[]; tags?: Record<string, string> },
  ): Promise<void> {
    const { metrics, ...rest } = batch;
    // The compact form (one set of arrays per metric), serialised here without the general replacer: values
    // are already in the wire's encoding, and a batch is thousands of values, sent many times a second.
    const body = Buffer.from(
      JSON.stringify({
        ...rest,
        ...(metrics && metrics.length > 0 ? { series: seriesFromPoints(metrics) } : {}),
      }),
    );
    await this.http.json("POST", `/runs/${segment(id)}/log`, {
      body,
      headers: { "content-type": "application/json" },
    });
  }

  async logArtifacts(id: string, files: PushFile[]): Promise<RunView> {
    // Logging a path again replaces it (a checkpoint saved every few epochs): chunked along the one it replaces.
    const current = async () => new Map((await this.get(id)).artifacts.map((f) => [f.path, f.sha256]));
    const { result } = await uploadFiles(
      this.http,
      { files, chunker: this.chunkerOrDefault(), earlier: earlierChunkLists(this.http, current) },
      this.transfer,
      (upload, entries) =>
        this.http.json<RunView>("POST", `/runs/${segment(id)}/artifacts`, {
          json: { upload, files: entries },
        }),
    );
    return reviveRun(result);
  }

  async end(id: string, status: Exclude<RunStatus, "running"> = "finished"): Promise<RunView> {
    return reviveRun(await this.http.json<RunView>("POST", `/runs/${segment(id)}/end`, { json: { status } }));
  }

  async history(id: string, key: string, page: PageOptions = {}): Promise<MetricHistoryPage> {
    const answer = await this.http.json<MetricHistoryPage>("GET", `/runs/${segment(id)}/metrics`, {
      query: { key, limit: page.limit, cursor: page.cursor },
    });
    return {
      ...answer,
      points: answer.points.map((p) => ({ ...p, value: metricFromJson(p.value as number) })),
    };
  }

  /** Every point of one metric, fetched a page at a time. */
  async *allHistory(id: string, key: string, pageSize = 10_000): AsyncGenerator<MetricPoint> {
    let cursor: string | undefined;
    do {
      const page = await this.history(id, key, {
        limit: pageSize,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      yield* page.points;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  async promote(id: string, options: PromoteRunOptions): Promise<VersionView> {
    const { files, ...rest } = options;
    const path = `/runs/${segment(id)}/promote`;
    if (files === undefined)
      return reviveVersion(await this.http.json<VersionView>("POST", path, { json: rest }));
    const earlier = earlierChunkLists(this.http, versionToBuildOn(this.http, rest.name, rest.base));
    const { result } = await uploadFiles(
      this.http,
      { files, chunker: this.chunkerOrDefault(), earlier },
      this.transfer,
      (upload, entries) =>
        this.http.json<VersionView>("POST", path, { json: { ...rest, upload, files: entries } }),
    );
    return reviveVersion(result);
  }

  private chunkerOrDefault(): ChunkFile {
    return this.chunker ?? chunkFile;
  }
}

/** One run: log to it, then end it. */
export class Run {
  /** The run as the server last answered (after `startRun`, `refresh` or `end`). */
  view: RunView | undefined;

  constructor(
    private readonly api: RunApi,
    readonly id: string,
    view: RunView | undefined,
  ) {
    this.view = view;
  }

  /** Params are written once: logging another value for a key already logged fails with CONFLICT. */
  logParams(params: JsonObject): Promise<void> {
    return this.api.log(this.id, { params });
  }

  /** One value per metric, all at `step` (default 0). */
  logMetrics(values: Record<string, number>, step?: number, timestamp?: number): Promise<void> {
    const metrics = Object.entries(values).map(([key, value]) => ({
      key,
      value,
      ...(step !== undefined ? { step } : {}),
      ...(timestamp !== undefined ? { timestamp } : {}),
    }));
    return this.api.log(this.id, { metrics });
  }

  /** Many points at once (up to 10,000 a call), e.g. a buffer of a training loop's values. */
  logMetricPoints(points: MetricPointInput[]): Promise<void> {
    return this.api.log(this.id, { metrics: points });
  }

  setTags(tags: Record<string, string>): Promise<void> {
    return this.api.log(this.id, { tags });
  }

  /** Stores files (a local path each, or `{path, source}`) as the run's artifacts. */
  async logArtifact(...files: Array<string | PushFile>): Promise<RunView> {
    const given = files.map((f) => (typeof f === "string" ? { path: baseName(f), source: f } : f));
    this.view = await this.api.logArtifacts(this.id, given);
    return this.view;
  }

  async end(status: Exclude<RunStatus, "running"> = "finished"): Promise<RunView> {
    this.view = await this.api.end(this.id, status);
    return this.view;
  }

  async refresh(): Promise<RunView> {
    this.view = await this.api.get(this.id);
    return this.view;
  }

  history(key: string, page?: PageOptions): Promise<MetricHistoryPage> {
    return this.api.history(this.id, key, page);
  }

  promote(options: PromoteRunOptions): Promise<VersionView> {
    return this.api.promote(this.id, options);
  }

  /** A buffer that sends this run's metric points in batches in the background (see MetricLogger). */
  metricLogger(options?: MetricLoggerOptions): MetricLogger {
    return new MetricLogger(this, options);
  }
}

const baseName = (path: string): string => path.split(/[\\/]/).pop() || path;

export interface MetricLoggerOptions {
  /** Points per request (default 1,000; at most 10,000). */
  batchSize?: number;
  /** Requests on the wire at once (default 4): the training loop keeps going while earlier batches travel. */
  maxInFlight?: number;
}

/**
 * Buffers metric points and sends them in batches in the background, so a training loop does not wait for
 * the network on every step. `log` waits only when `maxInFlight` requests are already out; `flush` sends
 * what is buffered and waits for everything. The first failure is thrown by the next `log` or `flush`.
 * Batches may land out of order, so two points of one metric at the same step logged in different batches
 * keep no particular order between them.
 */
export class MetricLogger {
  private buffer: MetricPointInput[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;
  private readonly batchSize: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly run: Run,
    options: MetricLoggerOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 1000;
    this.maxInFlight = options.maxInFlight ?? 4;
  }

  /** Buffers one value of each metric in `values` at `step`. */
  async log(values: Record<string, number>, step?: number): Promise<void> {
    const timestamp = Date.now();
    for (const [key, value] of Object.entries(values)) {
      this.buffer.push({ key, value, timestamp, ...(step !== undefined ? { step } : {}) });
    }
    if (this.buffer.length >= this.batchSize) await this.send();
  }

  /** Buffers points as they are. */
  async logPoints(points: MetricPointInput[]): Promise<void> {
    for (const p of points) this.buffer.push(p);
    while (this.buffer.length >= this.batchSize) await this.send();
  }

  /** Sends everything buffered and waits until every batch has been stored. */
  async flush(): Promise<void> {
    while (this.buffer.length > 0) await this.send();
    await Promise.all(this.inFlight);
    this.throwFailure();
  }

  private throwFailure(): void {
    if (this.failure) throw this.failure.error;
  }

  private async send(): Promise<void> {
    this.throwFailure();
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
    this.throwFailure();
    const points = this.buffer.slice(0, this.batchSize);
    this.buffer = this.buffer.slice(this.batchSize);
    // Kept as a promise that never rejects; its failure waits to be thrown by the next call.
    const request: Promise<void> = this.run
      .logMetricPoints(points)
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.inFlight.delete(request));
    this.inFlight.add(request);
  }
}
