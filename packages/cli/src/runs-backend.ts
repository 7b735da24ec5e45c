/**
 * @module Where the run commands send their work: core's RunTracker over the local store (embedded), or a
 * server through the SDK when --url or CAIRN_URL names one. Both answer with the same views, so a command is written
 * once; the rules live in core either way (the server calls the same RunTracker).
 */
import {
  diffVersions,
  integrity,
  type MetricHistoryPage,
  type PromoteInput,
  type RunLog,
  type RunQuery,
  type RunStatus,
  type RunSummary,
  RunTracker,
  type RunView,
  trackingOf,
  type VersionDiff,
  type VersionView,
  viewRun,
  viewVersion,
} from "@cairn/core";
import type { CairnClient } from "@cairn/sdk";
import type { Store } from "@cairn/storage";
import type { Context } from "./context.js";
import { captureEnvironment, readLockFiles } from "./environment.js";
import type { GitCapture } from "./git.js";
import type { LocalFile } from "./local-files.js";
import { pullVersion } from "./pull-files.js";
import { openClient, remoteCode } from "./registry-backend.js";
import { storeCode, storeLocalFiles } from "./store-files.js";

export interface StartRequest {
  experiment?: string;
  name?: string;
  params: RunLog["params"];
  tags: Record<string, string>;
  data?: string[];
  command?: string;
}

export type PromoteRequest = Omit<PromoteInput, "files">;

export interface RunsBackend {
  /** Starts a run, recording the git capture (its patch stored) and the environment of `cwd`. */
  start(request: StartRequest, git: GitCapture | null): Promise<RunView>;
  log(id: string, batch: RunLog): Promise<void>;
  logArtifacts(id: string, files: LocalFile[]): Promise<RunView>;
  end(id: string, status: Exclude<RunStatus, "running">): Promise<RunView>;
  get(id: string): Promise<RunView>;
  list(query: RunQuery): Promise<RunSummary[]>;
  history(id: string, key: string, page: { limit: number; cursor?: string }): Promise<MetricHistoryPage>;
  resolve(ref: string): Promise<VersionView>;
  diffVersions(a: string, b: string): Promise<VersionDiff>;
  /** Promotes the run's artifacts, or `files` when given. */
  promote(id: string, request: PromoteRequest, files?: LocalFile[]): Promise<VersionView>;
  /** The bytes of one stored content (a code patch), verified. */
  readContent(sha256: string): Promise<Uint8Array>;
  /** Writes the files of the exact version `ref` under `dir`, each verified before it is renamed into place. */
  pullData(ref: string, dir: string): Promise<{ files: number; size: number }>;
}

/** Runs `body` with the backend the configuration names; an embedded store is closed afterwards. */
export async function withRuns<T>(ctx: Context, body: (runs: RunsBackend) => Promise<T>): Promise<T> {
  if (ctx.remote) return body(remoteBackend(ctx, await openClient(ctx.remote)));
  return ctx.withStore((store, registry) =>
    body(embeddedBackend(ctx, new RunTracker({ registry, store: trackingOf(registry.meta) }), store)),
  );
}

function embeddedBackend(ctx: Context, runs: RunTracker, chunks: Store): RunsBackend {
  const { registry } = runs;
  const store = async (files: LocalFile[], label: string, earlier: ReadonlyMap<string, string>) => {
    const stored = await storeLocalFiles(registry.content, files, label, ctx.out.json, earlier);
    // Durable before the record that refers to them is committed.
    await registry.content.flush();
    return stored;
  };
  return {
    async start(request, git) {
      const code = await storeCode(registry.content, git);
      const { environment, lockFiles } = await captureEnvironment(ctx.cwd, registry.content);
      await registry.content.flush();
      return viewRun(await runs.start({ ...request, code, environment, lockFiles }));
    },
    log: (id, batch) => runs.log(id, batch),
    async logArtifacts(id, files) {
      // Also finds out an unknown run before any file is stored.
      const earlier = await runs.filesToBuildOn(id);
      return viewRun(await runs.logArtifacts(id, await store(files, `run ${id}`, earlier)));
    },
    end: async (id, status) => viewRun(await runs.end(id, status)),
    get: async (id) => viewRun(await runs.get(id)),
    list: (query) => runs.list(query),
    history: (id, key, page) => runs.history(id, key, page),
    resolve: async (ref) => viewVersion(await registry.resolve(ref)),
    diffVersions: async (a, b) => diffVersions(await registry.resolve(a), await registry.resolve(b)),
    async promote(id, request, files) {
      // An unknown run or base is found out before any file is stored.
      await runs.get(id);
      if (request.base !== undefined) await registry.resolve(request.base);
      const stored = files
        ? await store(
            files,
            `promote ${request.name}`,
            await registry.filesToBuildOn(request.name, request.base),
          )
        : undefined;
      return viewVersion(await runs.promote(id, { ...request, ...(stored ? { files: stored } : {}) }));
    },
    async readContent(sha256) {
      const held = await chunks.content.index.getContent(sha256);
      if (!held) throw integrity(`content ${sha256} is missing from the store`);
      const parts: Uint8Array[] = [];
      for await (const piece of registry.content.read(held, { label: `content ${sha256.slice(0, 12)}` }))
        parts.push(piece);
      return Buffer.concat(parts);
    },
    async pullData(ref, dir) {
      const version = await registry.resolve(ref);
      await pullVersion(registry, version, dir);
      return { files: version.files.length, size: version.files.reduce((sum, f) => sum + f.size, 0) };
    },
  };
}

function remoteBackend(ctx: Context, client: CairnClient): RunsBackend {
  const upload = (files: LocalFile[]) => files.map((f) => ({ path: f.path, source: f.source, mode: f.mode }));
  return {
    async start(request, git) {
      const { environment, lockFiles } = await readLockFiles(ctx.cwd);
      const code = remoteCode(git);
      const run = await client.startRun({
        ...request,
        code,
        environment,
        lockFiles,
        ...(git?.patch ? { patch: git.patch } : {}),
      });
      return run.view ?? client.getRun(run.id);
    },
    log: (id, batch) => client.runs.log(id, batch),
    logArtifacts: (id, files) => client.runs.logArtifacts(id, upload(files)),
    end: (id, status) => client.runs.end(id, status),
    get: (id) => client.getRun(id),
    list: async (query) =>
      (
        await client.listRuns({
          ...(query.experiment !== undefined ? { experiment: query.experiment } : {}),
          ...(query.status !== undefined ? { status: query.status } : {}),
          limit: Math.min(query.limit ?? 100, 1000),
        })
      ).items,
    history: (id, key, page) => client.metricHistory(id, key, page),
    resolve: (ref) => client.resolve(ref),
    diffVersions: (a, b) => client.diff(a, b),
    async promote(id, request, files) {
      // An unknown base is found out before any file is uploaded.
      if (request.base !== undefined) await client.resolve(request.base);
      return client.promoteRun(id, {
        name: request.name,
        ...(files ? { files: upload(files) } : {}),
        ...(request.version !== undefined ? { version: request.version } : {}),
        ...(request.bump !== undefined ? { bump: request.bump } : {}),
        ...(request.notes !== undefined ? { notes: request.notes } : {}),
        ...(request.tags !== undefined ? { tags: request.tags } : {}),
        ...(request.aliases !== undefined ? { aliases: request.aliases } : {}),
        ...(request.base !== undefined ? { base: request.base } : {}),
      });
    },
    readContent: (sha256) => client.readContent(sha256),
    async pullData(ref, dir) {
      const pulled = await client.pull(ref, dir);
      return { files: pulled.files, size: pulled.bytes };
    },
  };
}
