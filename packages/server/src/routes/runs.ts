/**
 * @module Experiment tracking over HTTP: start a run, log batches of params, metric points and tags, log
 * artifacts (contents uploaded through an upload session first, as for a push), end it, read it, list runs,
 * read one metric's history page by page, and promote a run to a model version. The rules are core's
 * RunTracker; these routes only translate.
 */
import {
  checkExperimentName,
  type FileEntry,
  invalid,
  metricFromJson,
  pointsFromSeries,
  type RunStatus,
  viewRun,
  viewVersion,
} from "@cairn/core";
import { decodeCursor, encodeCursor } from "../pagination.js";
import { commonErrors, ErrorBody, VersionView } from "../schemas.js";
import type { Services } from "../services.js";
import type { RoutePlugin } from "./_shared.js";
import {
  ArtifactsBody,
  EndBody,
  HistoryPage,
  HistoryQuery,
  LogAnswer,
  LogBody,
  PromoteBody,
  RunListQuery,
  RunPage,
  RunParams,
  RunView,
  StartRunBody,
} from "./run-schemas.js";
import { requireSession } from "./transfer-sessions.js";

const writeAccess = { access: "run.write" } as const;
const writeErrors = { ...commonErrors, 409: ErrorBody } as const;
// A batch of MAX_BATCH_POINTS points with long names stays under this.
const LOG_BODY_LIMIT = 8 * 1024 * 1024;
const FILES_BODY_LIMIT = 32 * 1024 * 1024;

interface FileBody {
  path: string;
  size: number;
  sha256: string;
  mode?: string;
}

/**
 * Files named by uploaded contents: each content's size checked against the client's word, and the upload
 * session (if any) ended once `use` has recorded them, as a version commit does.
 */
async function withUploadedFiles<T>(
  services: Services,
  actor: string,
  upload: string | undefined,
  files: FileBody[],
  use: (files: FileEntry[]) => Promise<T>,
): Promise<T> {
  const index = services.store.content.index;
  const session = upload !== undefined && index ? await requireSession(index, upload, actor) : null;
  if (index) {
    for (const file of files) {
      const held = await index.getContent(file.sha256);
      if (held && held.size !== file.size) {
        throw invalid(`file ${file.path} is ${held.size} bytes on the server, not ${file.size}`);
      }
    }
  }
  const result = await use(
    files.map((f) => ({
      path: f.path,
      size: f.size,
      sha256: f.sha256,
      mode: Number.parseInt(f.mode ?? "644", 8),
    })),
  );
  if (session && index) await index.endSession(session.id);
  return result;
}

export const runRoutes: RoutePlugin = async (app, { services }) => {
  app.post(
    "/runs",
    {
      schema: {
        summary: "Start a run (data refs are resolved to exact versions now)",
        tags: ["runs"],
        body: StartRunBody,
        response: { 200: RunView, ...writeErrors },
      },
      config: writeAccess,
    },
    async (request) => {
      const { params, environment, upload, ...rest } = request.body;
      const start = () =>
        services.runs(request).start({
          ...rest,
          ...(params !== undefined ? { params: params as never } : {}),
          ...(environment !== undefined ? { environment: environment as never } : {}),
        });
      return viewRun(await withUploadedFiles(services, request.actor, upload, [], start));
    },
  );

  app.get(
    "/runs",
    {
      schema: {
        summary: "Runs, newest first",
        tags: ["runs"],
        querystring: RunListQuery,
        response: { 200: RunPage, ...commonErrors },
      },
    },
    async (request) => {
      const { experiment, status, limit = 100, cursor } = request.query;
      if (experiment !== undefined) checkExperimentName(experiment);
      const items = await services.runs(request).list({
        limit: limit + 1,
        ...(experiment !== undefined ? { experiment } : {}),
        ...(status !== undefined ? { status: status as RunStatus } : {}),
        ...(cursor !== undefined ? { beforeId: decodeCursor("runs", cursor, "string") } : {}),
      });
      const page = items.slice(0, limit);
      const last = page[page.length - 1];
      return { items: page, nextCursor: items.length > limit && last ? encodeCursor("runs", last.id) : null };
    },
  );

  app.get(
    "/runs/:id",
    {
      schema: {
        summary: "A run: params, last metric values, tags, data, artifacts, code, environment",
        tags: ["runs"],
        params: RunParams,
        response: { 200: RunView, ...commonErrors },
      },
    },
    async (request) => viewRun(await services.runs(request).get(request.params.id)),
  );

  app.post(
    "/runs/:id/log",
    {
      schema: {
        summary:
          "Log params (write-once: another value is 409), metric points (as points or as per-metric series) and tags in one batch",
        tags: ["runs"],
        params: RunParams,
        body: LogBody,
        response: { 200: LogAnswer, ...writeErrors },
      },
      config: writeAccess,
      bodyLimit: LOG_BODY_LIMIT,
    },
    async (request) => {
      const { params, metrics, series, tags } = request.body;
      const points = [
        ...(metrics ?? []).map((p) => ({
          key: p.key,
          value: metricFromJson(p.value),
          ...(p.step !== undefined ? { step: p.step } : {}),
          ...(p.timestamp !== undefined ? { timestamp: p.timestamp } : {}),
        })),
        ...(series ? pointsFromSeries(series) : []),
      ];
      await services.runs(request).log(request.params.id, {
        ...(params !== undefined ? { params: params as never } : {}),
        ...(tags !== undefined ? { tags } : {}),
        ...(points.length > 0 ? { metrics: points } : {}),
      });
      return { points: points.length };
    },
  );

  app.post(
    "/runs/:id/artifacts",
    {
      schema: {
        summary: "Record uploaded files as the run's artifacts (a path logged again is replaced)",
        tags: ["runs"],
        params: RunParams,
        body: ArtifactsBody,
        response: { 200: RunView, ...writeErrors },
      },
      config: writeAccess,
      bodyLimit: FILES_BODY_LIMIT,
    },
    async (request) =>
      viewRun(
        await withUploadedFiles(services, request.actor, request.body.upload, request.body.files, (files) =>
          services.runs(request).logArtifacts(request.params.id, files),
        ),
      ),
  );

  app.post(
    "/runs/:id/end",
    {
      schema: {
        summary: "End a run as finished (default), failed or killed",
        tags: ["runs"],
        params: RunParams,
        body: EndBody,
        response: { 200: RunView, ...writeErrors },
      },
      config: writeAccess,
    },
    async (request) =>
      viewRun(await services.runs(request).end(request.params.id, request.body.status ?? "finished")),
  );

  app.get(
    "/runs/:id/metrics",
    {
      schema: {
        summary: "One metric's points in step order, a page at a time",
        tags: ["runs"],
        params: RunParams,
        querystring: HistoryQuery,
        response: { 200: HistoryPage, ...commonErrors },
      },
    },
    async (request) => {
      const { key, limit = 10_000, cursor } = request.query;
      return services.runs(request).history(request.params.id, key, {
        limit,
        ...(cursor !== undefined ? { cursor } : {}),
      });
    },
  );

  app.post(
    "/runs/:id/promote",
    {
      schema: {
        summary:
          "Make a model version from a run: its files (default: the run's artifacts) with the run's params, " +
          "last metric values, data, code and environment, and `run` set",
        tags: ["runs"],
        params: RunParams,
        body: PromoteBody,
        response: { 200: VersionView, ...writeErrors },
      },
      config: { access: "version.push" },
      bodyLimit: FILES_BODY_LIMIT,
    },
    async (request) => {
      const { upload, files, ...rest } = request.body;
      const promote = (given?: FileEntry[]) =>
        services.runs(request).promote(request.params.id, { ...rest, ...(given ? { files: given } : {}) });
      const version =
        files === undefined
          ? await promote()
          : await withUploadedFiles(services, request.actor, upload, files, promote);
      return viewVersion(version);
    },
  );
};
