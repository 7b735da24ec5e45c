/**
 * @module GET /search: the filter language over versions or runs, one page at a time. Parsing, the SQL and
 * the paging token are core's; a grammar error is a 400 INVALID whose message points at the column.
 */
import { MAX_SEARCH_LIMIT } from "@cairn/core";
import { Type } from "typebox";
import { commonErrors, Nullable } from "../schemas.js";
import type { RoutePlugin } from "./_shared.js";

export const SearchQuery = Type.Object({
  q: Type.String({
    maxLength: 4000,
    description: "a filter, e.g. metrics.accuracy > 0.9 and tags.team = 'nlp' order by metrics.f1 desc",
  }),
  kind: Type.Optional(Type.Union([Type.Literal("versions"), Type.Literal("runs")], { default: "versions" })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_SEARCH_LIMIT })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});

export const SearchHit = Type.Union([
  Type.Object({ kind: Type.Literal("version"), artifact: Type.String(), version: Type.String() }),
  Type.Object({
    kind: Type.Literal("run"),
    id: Type.String(),
    name: Type.String(),
    experiment: Type.String(),
    status: Type.String(),
  }),
]);

export const SearchPage = Type.Object({ hits: Type.Array(SearchHit), nextCursor: Nullable(Type.String()) });

export const searchRoutes: RoutePlugin = async (app, { services }) => {
  app.get(
    "/search",
    {
      schema: {
        summary: "Versions or runs matching a filter (metrics, params, tags, data, name, version, status...)",
        tags: ["search"],
        querystring: SearchQuery,
        response: { 200: SearchPage, ...commonErrors },
      },
    },
    async (request) => {
      const { q, kind = "versions", limit, cursor } = request.query;
      return services.search().search({ query: q, kind, limit, cursor });
    },
  );
};
