/**
 * @module `/metrics` for Prometheus. Outside the OpenAPI document (it is not JSON); needs a token like any
 * read once auth is on (Prometheus sends one with `authorization: {credentials: …}`).
 */
import type { FastifyPluginAsync } from "fastify";
import { type MetricsCounts, renderMetrics } from "../metrics.js";
import type { Services } from "../services.js";

export const metricsRoute: FastifyPluginAsync<{
  services: Services;
  /** This process's counts, or every worker's summed. */
  counts: () => Promise<MetricsCounts>;
}> = async (app, { services, counts }) => {
  app.get("/metrics", { schema: { hide: true }, config: { access: "read" } }, async (_request, reply) => {
    const index = services.store.content.index;
    let store = null;
    if (index !== undefined) {
      const [rows, packBytes] = await Promise.all([index.stats(), index.packBytes()]);
      const overall = rows.find((row) => row.artifact === null);
      if (overall !== undefined) store = { stats: overall, packBytes };
    }
    return reply.type("text/plain; version=0.0.4; charset=utf-8").send(renderMetrics(await counts(), store));
  });
};
