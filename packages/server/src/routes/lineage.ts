/**
 * @module GET /lineage: the graph around a version or run — dataset version → run → model version — walked up,
 * down or both by core's walkLineage over the driver's edge queries.
 */
import { invalid, lineageRoot, MAX_LINEAGE_DEPTH, trackingOf, walkLineage } from "@cairn/core";
import { Type } from "typebox";
import { commonErrors } from "../schemas.js";
import type { RoutePlugin } from "./_shared.js";

export const LineageQuery = Type.Object({
  ref: Type.String({
    minLength: 1,
    maxLength: 500,
    description: "a version ref (name@1.2.0, name@production) or a run id",
  }),
  direction: Type.Optional(
    Type.Union([Type.Literal("up"), Type.Literal("down"), Type.Literal("both")], { default: "both" }),
  ),
  depth: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LINEAGE_DEPTH })),
});

export const LineageGraph = Type.Object({
  root: Type.String(),
  nodes: Type.Array(Type.String()),
  edges: Type.Array(
    Type.Object({
      from: Type.String(),
      to: Type.String(),
      kind: Type.Union([
        Type.Literal("input"),
        Type.Literal("produced"),
        Type.Literal("data"),
        Type.Literal("base"),
      ]),
    }),
  ),
});

export const lineageRoutes: RoutePlugin = async (app, { services }) => {
  app.get(
    "/lineage",
    {
      schema: {
        summary: "What a version or run was made from and what was made from it",
        tags: ["lineage"],
        querystring: LineageQuery,
        response: { 200: LineageGraph, ...commonErrors },
      },
    },
    async (request) => {
      const { ref, direction = "both", depth } = request.query;
      const edges = services.store.meta.lineage?.();
      if (edges === undefined) throw invalid("this store cannot answer lineage");
      const tracking = services.store.tracking ?? trackingOf(services.store.meta);
      const root = await lineageRoot(
        ref,
        (r) => services.registry(request).resolve(r),
        (id) => tracking.getRun(id),
      );
      return walkLineage(edges, root, { direction, ...(depth !== undefined ? { depth } : {}) });
    },
  );
};
