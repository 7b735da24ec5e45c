/**
 * @module Experiment tracking's use cases — start a run, log params, metrics and tags, log artifacts, end it,
 * read its metric history, promote it to a model version — written once over the tracking store. The
 * embedded CLI and the server both call these.
 */
import { assertAuthorized } from "./auth.js";
import { diffVersions, type VersionDiff } from "./diff.js";
import { invalid, isCairnError, notFound } from "./errors.js";
import { canonicalJson, checkMetricKey, checkMetricPoints, type MetricPointInput } from "./metrics.js";
import { checkArtifactName, checkTags } from "./names.js";
import type { MetricHistoryPage, RunQuery, TrackingStore } from "./ports/tracking.js";
import { exactRef, resolveRef } from "./refs.js";
import type { Registry } from "./registry.js";
import { type DataInput, parseDataInput, placeData } from "./reproduce.js";
import type {
  ArtifactType,
  CodeInfo,
  FileEntry,
  Json,
  JsonObject,
  NewAuditEvent,
  Run,
  RunStatus,
  RunSummary,
  Version,
} from "./types.js";
import { RUN_STATUSES } from "./types.js";
import type { Bump } from "./versions.js";

export const DEFAULT_EXPERIMENT = "default";
export const MAX_HISTORY_PAGE = 100_000;

const RUN_ID = /^[0-9a-z]{16}$/;
const PARAM_KEY = /^[A-Za-z0-9_.:/-]{1,250}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const MAX_NAME = 200;
// Ids are random in their last 30 bits: a collision needs two runs in the same millisecond and the same draw.
const ID_ATTEMPTS = 5;
// Crockford's base32 alphabet, lower case: no i, l, o, u, so an id read aloud or retyped stays unambiguous.
const BASE32 = "0123456789abcdefghjkmnpqrstvwxyz";

/**
 * A new run id: 10 base32 digits of the time in milliseconds, then 6 random ones. Ids sort by start time,
 * so "newest first" is an index scan, and they stay short enough to type.
 */
export function newRunId(now: number): string {
  let time = "";
  let t = Math.floor(now);
  for (let i = 0; i < 10; i++) {
    time = BASE32[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const random = new Uint8Array(6);
  globalThis.crypto.getRandomValues(random);
  return time + [...random].map((b) => BASE32[b % 32]).join("");
}

export function checkRunId(id: string): string {
  if (typeof id !== "string" || !RUN_ID.test(id)) {
    throw invalid(`invalid run id ${JSON.stringify(id)}`, {
      hint: "run ids are 16 letters and digits; see `cairn run list`",
    });
  }
  return id;
}

export function checkRunStatus(status: string): RunStatus {
  if (!(RUN_STATUSES as readonly string[]).includes(status)) {
    throw invalid(`invalid run status ${JSON.stringify(status)}: use ${RUN_STATUSES.join(", ")}`);
  }
  return status as RunStatus;
}

/** Experiment names follow the artifact name rule (they appear in paths and filters the same way). */
export function checkExperimentName(name: string): string {
  try {
    return checkArtifactName(name);
  } catch {
    throw invalid(`invalid experiment name ${JSON.stringify(name)}`, {
      hint: "use letters, digits, '.', '_' and '-' (at most 100 characters)",
    });
  }
}

function checkParamKeys(params: JsonObject): Record<string, string> {
  if (params === null || typeof params !== "object" || Array.isArray(params)) {
    throw invalid("params must be a JSON object");
  }
  const texts: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    if (!PARAM_KEY.test(key)) throw invalid(`invalid param name ${JSON.stringify(key)}`);
    texts[key] = canonicalJson(value as Json);
  }
  return texts;
}

export interface StartRunInput {
  experiment?: string;
  name?: string;
  params?: JsonObject;
  tags?: Record<string, string>;
  /**
   * The data it reads: refs, or `REF=PATH` / `{ref, path}` to record where each sits relative to the
   * repository root (default `data/<name>`). Recorded resolved to exact versions.
   */
  data?: Array<string | DataInput>;
  code?: CodeInfo | null;
  environment?: JsonObject | null;
  /** Lock file name → sha256 of its content, already in the content store. */
  lockFiles?: Record<string, string>;
  command?: string | null;
}

export interface RunLog {
  params?: JsonObject;
  metrics?: MetricPointInput[];
  tags?: Record<string, string>;
}

export interface PromoteInput {
  /** The model's name. */
  name: string;
  /** The model's files (content already stored); left out, the run's logged artifacts. */
  files?: FileEntry[];
  version?: string;
  bump?: Bump;
  type?: ArtifactType;
  notes?: string;
  tags?: Record<string, string>;
  aliases?: string[];
  /** A ref of the model it was derived from (fine-tuned from, say); stored as the exact version. */
  base?: string;
}

export interface RunTrackerOptions {
  registry: Registry;
  store: TrackingStore;
  now?: () => Date;
}

export class RunTracker {
  readonly registry: Registry;
  readonly store: TrackingStore;
  private readonly now: () => Date;

  constructor(options: RunTrackerOptions) {
    this.registry = options.registry;
    this.store = options.store;
    this.now = options.now ?? (() => new Date());
  }

  private checkWrite(target?: string): void {
    const role = this.registry.role;
    if (role !== undefined) assertAuthorized(role, "run.write", {}, target);
  }

  private audit(action: string, target: string, before: Json, after: Json): NewAuditEvent {
    const at = this.now().toISOString();
    return { at, actor: this.registry.actor, action, artifact: null, target, before, after };
  }

  async start(input: StartRunInput = {}): Promise<Run> {
    this.checkWrite();
    const experiment = checkExperimentName(input.experiment ?? DEFAULT_EXPERIMENT);
    const params = input.params ?? {};
    checkParamKeys(params);
    const tags = checkTags(input.tags ?? {});
    if (input.name !== undefined && (typeof input.name !== "string" || input.name.length > MAX_NAME)) {
      throw invalid(`a run name is text of at most ${MAX_NAME} characters`);
    }
    // An alias is resolved now: the run records the exact version it read, whatever the alias names later.
    const inputs: Array<{ ref: string; path: string | undefined }> = [];
    for (const given of input.data ?? []) {
      const { ref, path } = typeof given === "string" ? parseDataInput(given) : given;
      const v = await resolveRef(this.registry.meta, ref);
      inputs.push({ ref: exactRef(v.artifact, v.version), path });
    }
    const dataPaths = placeData(inputs);
    const data = Object.keys(dataPaths);
    const content = this.registry.content;
    if (input.code?.patch && !(await content.has(input.code.patch))) {
      throw invalid("the code patch is not in the content store");
    }
    const lockFiles = input.lockFiles ?? {};
    for (const [file, sha] of Object.entries(lockFiles)) {
      if (!SHA256.test(sha) || !(await content.has(sha)))
        throw invalid(`the content of lock file ${file} is not in the store`);
    }
    const environment =
      input.environment === null && Object.keys(lockFiles).length === 0
        ? null
        : { ...(input.environment ?? {}), ...(Object.keys(lockFiles).length > 0 ? { lockFiles } : {}) };
    for (let attempt = 1; ; attempt++) {
      const started = this.now();
      const id = newRunId(started.getTime());
      try {
        return await this.store.createRun(
          {
            id,
            experiment,
            name: input.name ?? id,
            startTime: started.toISOString(),
            createdBy: this.registry.actor,
            params,
            tags,
            data,
            dataPaths,
            code: input.code ?? null,
            environment,
            lockFiles,
            command: input.command ?? null,
          },
          this.audit("run.start", `run:${id}`, null, { experiment, data }),
        );
      } catch (error) {
        if (isCairnError(error, "CONFLICT") && attempt < ID_ATTEMPTS) continue;
        throw error;
      }
    }
  }

  /** Logs params (write-once), metric points and tags to a run in one transaction. */
  async log(id: string, batch: RunLog): Promise<void> {
    this.checkWrite(`run:${id}`);
    checkRunId(id);
    const params = batch.params === undefined ? undefined : checkParamKeys(batch.params);
    const metrics =
      batch.metrics === undefined ? undefined : checkMetricPoints(batch.metrics, this.now().getTime());
    const tags = batch.tags === undefined ? undefined : checkTags(batch.tags);
    await this.store.logToRun(id, {
      ...(params ? { params } : {}),
      ...(metrics ? { metrics } : {}),
      ...(tags ? { tags } : {}),
    });
  }

  /** Records files (content already stored) as the run's artifacts. */
  async logArtifacts(id: string, files: FileEntry[]): Promise<Run> {
    this.checkWrite(`run:${id}`);
    checkRunId(id);
    const checked = await this.registry.checkFiles(files);
    return this.store.addRunArtifacts(
      id,
      checked,
      this.audit("run.artifact", `run:${id}`, null, { files: checked.map((f) => f.path) }),
    );
  }

  /**
   * The files (path → sha256) a new artifact logged to run `id` most likely changes: the run's own artifacts,
   * since logging a path again replaces it (a checkpoint saved every few epochs). The content store chunks the
   * new file along the old one at the same path, as for a push (see `Registry.filesToBuildOn`).
   */
  async filesToBuildOn(id: string): Promise<Map<string, string>> {
    const run = await this.get(id);
    return new Map(run.artifacts.map((file) => [file.path, file.sha256]));
  }

  async end(id: string, status: RunStatus = "finished"): Promise<Run> {
    this.checkWrite(`run:${id}`);
    checkRunId(id);
    if (checkRunStatus(status) === "running") throw invalid("a run ends as finished, failed or killed");
    return this.store.endRun(
      id,
      status,
      this.now().toISOString(),
      this.audit("run.end", `run:${id}`, "running", status),
    );
  }

  async get(id: string): Promise<Run> {
    const run = await this.store.getRun(checkRunId(id));
    if (!run) throw notFound(`no run ${id}`, { hint: "see `cairn run list`" });
    return run;
  }

  list(query: RunQuery = {}): Promise<RunSummary[]> {
    if (query.experiment !== undefined) checkExperimentName(query.experiment);
    if (query.status !== undefined) checkRunStatus(query.status);
    return this.store.listRuns(query);
  }

  /** One metric's points in step order, a page at a time. */
  async history(
    id: string,
    key: string,
    page: { limit?: number; cursor?: string } = {},
  ): Promise<MetricHistoryPage> {
    await this.get(id);
    const limit = page.limit ?? 1000;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_HISTORY_PAGE) {
      throw invalid(`invalid page size ${limit}: 1 to ${MAX_HISTORY_PAGE}`);
    }
    return this.store.metricHistory(id, {
      key: checkMetricKey(key),
      limit,
      ...(page.cursor !== undefined ? { cursor: page.cursor } : {}),
    });
  }

  /**
   * Makes a model version from a run: its files (or else the run's logged artifacts), inheriting the run's
   * params, final metrics, data inputs, code and environment, with `run` set for lineage.
   */
  async promote(id: string, input: PromoteInput): Promise<Version> {
    const run = await this.get(id);
    const files = input.files ?? run.artifacts;
    if (files.length === 0) {
      throw invalid(`run ${id} has no logged artifacts to promote`, {
        hint: "give the model's files, or log them first with `cairn run artifact`",
      });
    }
    return this.registry.publishVersion({
      name: input.name,
      files,
      params: run.params,
      metrics: run.metrics,
      data: run.data,
      code: run.code,
      environment: run.environment,
      run: run.id,
      tags: input.tags ?? {},
      ...(input.type !== undefined ? { type: input.type } : {}),
      ...(input.version !== undefined ? { version: input.version } : {}),
      ...(input.bump !== undefined ? { bump: input.bump } : {}),
      ...(input.notes !== undefined ? { notes: input.notes } : {}),
      ...(input.aliases !== undefined ? { aliases: input.aliases } : {}),
      ...(input.base !== undefined ? { base: input.base } : {}),
    });
  }
}

/** A run as `cairn run show --json` prints it and the API answers it: file modes as octal text. */
export interface RunView extends Omit<Run, "artifacts"> {
  artifacts: Array<{ path: string; size: number; sha256: string; mode: string }>;
}

export function viewRun(run: Run): RunView {
  return {
    ...run,
    artifacts: run.artifacts.map((f) => ({
      path: f.path,
      size: f.size,
      sha256: f.sha256,
      mode: f.mode.toString(8).padStart(4, "0"),
    })),
  };
}

/**
 * The tracking store of a metadata store that keeps runs in its own database (it has `tracking()`), or
 * INVALID: a driver without runs says so instead of failing on a missing method.
 */
export function trackingOf(meta: object): TrackingStore {
  const tracking = (meta as { tracking?: unknown }).tracking;
  if (typeof tracking !== "function") {
    throw invalid("this metadata store keeps no runs", { hint: "use the SQLite or PostgreSQL store" });
  }
  return tracking.call(meta) as TrackingStore;
}

/** What changed between two runs (artifacts as files, params, final metrics, data, code), as `diffVersions`. */
export function diffRuns(a: Run, b: Run): VersionDiff {
  const asVersion = (run: Run): Version => ({
    artifact: "run",
    type: "model",
    version: run.id,
    seq: 0,
    createdAt: run.startTime,
    createdBy: run.createdBy,
    files: run.artifacts,
    params: run.params,
    metrics: run.metrics,
    tags: run.tags,
    notes: "",
    data: run.data,
    code: run.code,
    environment: run.environment,
    run: run.id,
    base: null,
    aliases: [],
  });
  return { ...diffVersions(asVersion(a), asVersion(b)), a: a.id, b: b.id };
}

/** The run a RunView shows (file modes back to numbers): what a remote client has in hand. */
export function runFromView(view: RunView): Run {
  return { ...view, artifacts: view.artifacts.map((f) => ({ ...f, mode: Number.parseInt(f.mode, 8) })) };
}
