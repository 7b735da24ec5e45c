/**
 * @module Aliases: list, move (set), remove, roll back, protect, and their history. Every move goes through
 * core's Registry, which records it as a compare-and-set with its history and audit events, and which refuses
 * a move of a protected alias unless the request's role is admin.
 */
import { pageAfter } from "../pagination.js";
import {
  AliasEvent,
  AliasEventPage,
  AliasHistoryQuery,
  AliasPage,
  AliasParams,
  Alias as AliasSchema,
  ArtifactParams,
  commonErrors,
  DEFAULT_PAGE,
  ErrorBody,
  ProtectionBody,
  ReasonQuery,
  RollbackBody,
  SetAliasBody,
} from "../schemas.js";
import { type RoutePlugin, requireArtifact } from "./_shared.js";

const moveErrors = { ...commonErrors, 409: ErrorBody } as const;

export const aliasRoutes: RoutePlugin = async (app, { services }) => {
  app.get(
    "/artifacts/:name/aliases",
    {
      schema: {
        summary: "An artifact's aliases, by name (never more than one page)",
        tags: ["aliases"],
        params: ArtifactParams,
        response: { 200: AliasPage, ...commonErrors },
      },
    },
    async (request) => {
      const { meta } = services.store;
      const artifact = await requireArtifact(meta, request.params.name);
      return { items: await meta.listAliases(artifact.name), nextCursor: null };
    },
  );

  app.get(
    "/artifacts/:name/aliases/history",
    {
      schema: {
        summary: "Every move of an artifact's aliases (or of one), oldest first, paged",
        tags: ["aliases"],
        params: ArtifactParams,
        querystring: AliasHistoryQuery,
        response: { 200: AliasEventPage, ...commonErrors },
      },
    },
    async (request) => {
      const { alias, limit = DEFAULT_PAGE, cursor } = request.query;
      const events = await services.registry(request).aliasHistory(request.params.name, alias);
      return pageAfter(events, "alias-history", (e) => e.id, limit, cursor, "number");
    },
  );

  app.put(
    "/artifacts/:name/aliases/:alias",
    {
      schema: {
        summary: "Point an alias at a version (the move is kept in the history)",
        tags: ["aliases"],
        params: AliasParams,
        body: SetAliasBody,
        response: { 200: AliasEvent, ...moveErrors },
      },
      config: { access: "alias.move" },
    },
    async (request) => {
      const { name, alias } = request.params;
      const { version, reason } = request.body;
      return services.registry(request).setAlias(name, alias, version, reason ?? null);
    },
  );

  app.delete(
    "/artifacts/:name/aliases/:alias",
    {
      schema: {
        summary: "Remove an alias (the removal is kept in the history)",
        tags: ["aliases"],
        params: AliasParams,
        querystring: ReasonQuery,
        response: { 200: AliasEvent, ...moveErrors },
      },
      config: { access: "alias.move" },
    },
    async (request) => {
      const { name, alias } = request.params;
      return services.registry(request).removeAlias(name, alias, request.query.reason ?? null);
    },
  );

  app.post(
    "/artifacts/:name/aliases/:alias/rollback",
    {
      schema: {
        summary: "Move an alias back to the version it pointed at before (or to `to`)",
        tags: ["aliases"],
        params: AliasParams,
        body: RollbackBody,
        response: { 200: AliasEvent, ...moveErrors },
      },
      config: { access: "alias.move" },
      // The body is optional: a bare POST rolls back one step.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) => {
      const { name, alias } = request.params;
      const { to, reason } = request.body;
      return services.registry(request).rollback(name, alias, {
        ...(to !== undefined ? { to } : {}),
        reason: reason ?? null,
      });
    },
  );

  app.put(
    "/artifacts/:name/aliases/:alias/protection",
    {
      schema: {
        summary: "Protect an alias (moving it then needs an admin token) or unprotect it",
        tags: ["aliases"],
        params: AliasParams,
        body: ProtectionBody,
        response: { 200: AliasSchema, ...commonErrors },
      },
      config: { access: "alias.protect" },
    },
    async (request) => {
      const { name, alias } = request.params;
      return services.registry(request).setAliasProtection(name, alias, request.body.protected);
    },
  );
};
