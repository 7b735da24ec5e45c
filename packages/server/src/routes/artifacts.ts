/**
 * @module Reading the registry: artifacts, their versions (paged), one version, refs and diffs. Versions are
 * answered in core's VersionView shape, the one `cairn show --json` prints.
 */
import { diffVersions, highestVersion, resolveRef, viewVersion } from "@cairn/core";
import { serialize } from "../json-reply.js";
import { KeptWhileUnchanged } from "../kept-while-unchanged.js";
import { pageAfter } from "../pagination.js";
import { parseRefOnce } from "../parsed-refs.js";
import {
  ArtifactDetail,
  ArtifactPage,
  ArtifactParams,
  commonErrors,
  DEFAULT_PAGE,
  DiffQuery,
  PageQuery,
  RefParams,
  VersionDiff,
  VersionPage,
  VersionParams,
  VersionView,
} from "../schemas.js";
import { type RoutePlugin, requireArtifact, versionRef } from "./_shared.js";

export const artifactRoutes: RoutePlugin = async (app, { services }) => {
  // Resolved refs as the JSON bytes they are answered with.
  const resolved = new KeptWhileUnchanged<Buffer>(() => services.store.meta);
  app.get(
    "/artifacts",
    {
      schema: {
        summary: "List artifacts, by name",
        tags: ["artifacts"],
        querystring: PageQuery,
        response: { 200: ArtifactPage, ...commonErrors },
      },
    },
    async (request) => {
      const all = await services.store.meta.listArtifacts();
      const { limit = DEFAULT_PAGE, cursor } = request.query;
      return pageAfter(all, "artifacts", (a) => a.name, limit, cursor, "string");
    },
  );

  app.get(
    "/artifacts/:name",
    {
      schema: {
        summary: "One artifact: its summary and current aliases",
        tags: ["artifacts"],
        params: ArtifactParams,
        response: { 200: ArtifactDetail, ...commonErrors },
      },
    },
    async (request) => {
      const { meta } = services.store;
      const artifact = await requireArtifact(meta, request.params.name);
      const [versions, aliases, moves] = await Promise.all([
        meta.listVersions(artifact.name),
        meta.listAliases(artifact.name),
        meta.aliasHistory(artifact.name),
      ]);
      // The same summary `cairn list` shows for it: updated by its newest version or its latest alias move.
      const times = [artifact.createdAt, versions.at(-1)?.createdAt ?? "", moves.at(-1)?.at ?? ""];
      return {
        name: artifact.name,
        type: artifact.type,
        createdAt: artifact.createdAt,
        versionCount: versions.length,
        latestVersion: highestVersion(versions.map((v) => v.version)),
        // ISO times in UTC sort as text.
        updatedAt: times.sort().at(-1) ?? artifact.createdAt,
        aliases,
      };
    },
  );

  app.get(
    "/artifacts/:name/versions",
    {
      schema: {
        summary: "An artifact's versions in sequence order, paged",
        tags: ["versions"],
        params: ArtifactParams,
        querystring: PageQuery,
        response: { 200: VersionPage, ...commonErrors },
      },
    },
    async (request) => {
      const { meta } = services.store;
      const artifact = await requireArtifact(meta, request.params.name);
      const { limit = DEFAULT_PAGE, cursor } = request.query;
      const all = await meta.listVersions(artifact.name);
      return pageAfter(all, "versions", (v) => v.seq, limit, cursor, "number");
    },
  );

  app.get(
    "/artifacts/:name/versions/:version",
    {
      schema: {
        summary: "One version, by its exact version string",
        tags: ["versions"],
        params: VersionParams,
        response: { 200: VersionView, ...commonErrors },
      },
    },
    async (request) => {
      const ref = versionRef(request.params.name, request.params.version);
      return viewVersion(await services.registry(request).resolve(ref));
    },
  );

  app.get(
    "/resolve/:ref",
    {
      schema: {
        summary: "The version a ref names (name@1.2.0, name@production, name@latest, name@^1.2, name#3)",
        tags: ["versions"],
        params: RefParams,
        response: { 200: VersionView, ...commonErrors },
      },
    },
    // The hottest route: core's resolveRef with the ref parsed once per server (a read needs no role check),
    // its answer kept while the store is unchanged.
    async (request, reply) => {
      const text = request.params.ref;
      const answer = await resolved.get(request, text, async () =>
        Buffer.from(serialize(viewVersion(await resolveRef(services.store.meta, parseRefOnce(text))))),
      );
      // Already VersionView's JSON bytes: sent as they are, not serialised again.
      return reply.type("application/json; charset=utf-8").send(answer as never);
    },
  );

  app.get(
    "/diff",
    {
      schema: {
        summary: "What changed from ref a to ref b: files, params, metric deltas, data and code",
        tags: ["versions"],
        querystring: DiffQuery,
        response: { 200: VersionDiff, ...commonErrors },
      },
    },
    async (request) => {
      const registry = services.registry(request);
      const [a, b] = await Promise.all([
        registry.resolve(request.query.a),
        registry.resolve(request.query.b),
      ]);
      return diffVersions(a, b);
    },
  );
};
