/**
 * @module `cairn search`: versions (or runs) matching a filter, through the local store or the server.
 */
import { CairnError, type SearchPage, type SearchRequest } from "@cairn/core";
import type { Command } from "commander";
import { table } from "../output.js";
import { defineCommand, withContext } from "../program.js";
import { openClient } from "../registry-backend.js";

export function registerSearch(program: Command): void {
  defineCommand(program, {
    name: "search",
    description:
      "versions (or runs) matching a filter over metrics.K, params.K, tags.K, data, name, version, created_at, status and experiment",
    examples: [
      "cairn search \"metrics.accuracy > 0.9 and tags.team = 'nlp'\"",
      "cairn search \"data = 'imdb@2.1.0' and (params.lr = 0.01 or params.lr = 0.001) order by metrics.f1 desc\" --limit 5",
      "cairn search \"status = 'finished' and experiment like 'sent%' order by metrics.accuracy desc\" --runs --json",
      'cairn search "not metrics.loss = NaN" --cursor <nextCursor from --json>',
    ],
  })
    .argument("[query]", "the filter; empty lists everything, newest first", "")
    .option("--runs", "search runs instead of versions")
    .option("-n, --limit <count>", "how many hits (1-1000; default 50, or the filter's own limit)")
    .option("--cursor <cursor>", "the next page: the nextCursor a previous --json search printed")
    .action(
      withContext(async (ctx, query: string, opts: { runs?: boolean; limit?: string; cursor?: string }) => {
        const limit = opts.limit === undefined ? undefined : Number(opts.limit);
        if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 1000)) {
          throw new CairnError("USAGE", "--limit takes a whole number from 1 to 1000");
        }
        const request: SearchRequest = {
          query,
          kind: opts.runs ? "runs" : "versions",
          limit,
          cursor: opts.cursor,
        };
        const page: SearchPage = ctx.remote
          ? await (await openClient(ctx.remote)).search(query, {
              kind: request.kind,
              ...(limit !== undefined ? { limit } : {}),
              ...(opts.cursor !== undefined ? { cursor: opts.cursor } : {}),
            })
          : await ctx.withStore((store) => store.search.search(request));
        ctx.out.result(page, () => {
          if (page.hits.length === 0) return "no matches";
          const rows = table(
            request.kind === "runs" ? ["RUN", "NAME", "EXPERIMENT", "STATUS"] : ["VERSION"],
            page.hits.map((hit) =>
              hit.kind === "run"
                ? [hit.id, hit.name, hit.experiment, hit.status]
                : [`${hit.artifact}@${hit.version}`],
            ),
          );
          return page.nextCursor === null ? rows : [...rows, `more: --cursor ${page.nextCursor}`];
        });
      }),
    );
}
