/**
 * @module The audit log (newest first, paged by event id) and storage statistics (`cairn stats`).
 */
import { viewStats } from "@cairn/core";
import { decodeCursor, encodeCursor } from "../pagination.js";
import { AuditPage, AuditQuery, commonErrors, DEFAULT_PAGE, StatsQuery, StatsView } from "../schemas.js";
import { type RoutePlugin, requireArtifact } from "./_shared.js";

export const auditRoutes: RoutePlugin = async (app, { services }) => {
  app.get(
    "/audit",
    {
      schema: {
        summary: "Audit events (who did what, when, before and after), newest first, paged",
        tags: ["audit"],
        querystring: AuditQuery,
        response: { 200: AuditPage, ...commonErrors },
      },
    },
    async (request) => {
      const { meta } = services.store;
      const { artifact, limit = DEFAULT_PAGE, cursor } = request.query;
      if (artifact !== undefined) await requireArtifact(meta, artifact);
      const beforeId = cursor === undefined ? undefined : decodeCursor("audit", cursor, "number");
      // One more than asked: whether it comes back says if there is a next page, without a count query.
      const events = await meta.listAudit({
        ...(artifact !== undefined ? { artifact } : {}),
        ...(beforeId !== undefined ? { beforeId } : {}),
        limit: limit + 1,
      });
      const items = events.slice(0, limit);
      const last = items.at(-1);
      return {
        items,
        nextCursor: events.length > limit && last ? encodeCursor("audit", last.id) : null,
      };
    },
  );

  app.get(
    "/stats",
    {
      schema: {
        summary:
          "Logical bytes (pushed), stored bytes (unique chunks) and dedup ratio, per artifact and overall",
        tags: ["storage"],
        querystring: StatsQuery,
        response: { 200: StatsView, ...commonErrors },
      },
    },
    async (request) => {
      const { artifact } = request.query;
      if (artifact !== undefined) await requireArtifact(services.store.meta, artifact);
      const index = services.chunkIndex();
      return viewStats(await index.stats(artifact), await index.packBytes());
    },
  );
};
