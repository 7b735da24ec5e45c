/**
 * @module `cairn lineage`: dataset version → run → model version, walked up, down or both from one version or
 * run, as text, JSON, Graphviz dot or Mermaid; embedded or through the server.
 */
import {
  CairnError,
  invalid,
  lineageDot,
  lineageMermaid,
  lineageRoot,
  lineageText,
  walkLineage,
} from "@cairn/core";
import type { Command } from "commander";
import { defineCommand, withContext } from "../program.js";
import { openClient } from "../registry-backend.js";

const FORMATS = { text: lineageText, dot: lineageDot, mermaid: lineageMermaid } as const;

export function registerLineage(program: Command): void {
  defineCommand(program, {
    name: "lineage",
    description: "what a version or run was made from (--up) and what was made from it (--down)",
    examples: [
      "cairn lineage classifier@production",
      "cairn lineage imdb@2.1.0 --down --depth 2",
      "cairn lineage 01J8Z3K4 --format dot | dot -Tsvg > lineage.svg",
      "cairn lineage bert@1.1.0 --up --format mermaid",
    ],
  })
    .argument("<ref>", "a version (name@1.2.0, name@production) or a run id")
    .option("--up", "only what it was made from")
    .option("--down", "only what was made from it")
    .option("--depth <n>", "how many steps to walk (default: all)")
    .option("--format <format>", "text, dot or mermaid", "text")
    .action(
      withContext(
        async (ctx, ref: string, opts: { up?: boolean; down?: boolean; depth?: string; format: string }) => {
          if (opts.up && opts.down) throw new CairnError("USAGE", "give --up or --down, not both");
          const render = FORMATS[opts.format as keyof typeof FORMATS];
          if (render === undefined) throw new CairnError("USAGE", "--format takes text, dot or mermaid");
          const depth = opts.depth === undefined ? undefined : Number(opts.depth);
          if (depth !== undefined && (!Number.isInteger(depth) || depth < 1)) {
            throw new CairnError("USAGE", "--depth takes a whole number ≥ 1");
          }
          const direction = opts.up ? "up" : opts.down ? "down" : "both";
          const graph = ctx.remote
            ? await (await openClient(ctx.remote)).lineage(ref, {
                direction,
                ...(depth !== undefined ? { depth } : {}),
              })
            : await ctx.withStore(async (store, registry) => {
                const edges = store.meta.lineage?.();
                if (edges === undefined)
                  throw invalid(`the ${store.meta.kind} store cannot answer lineage yet`);
                const root = await lineageRoot(
                  ref,
                  (r) => registry.resolve(r),
                  (id) => store.tracking.getRun(id),
                );
                return walkLineage(edges, root, {
                  direction,
                  ...(depth !== undefined ? { depth } : {}),
                });
              });
          ctx.out.result(graph, () => render(graph));
        },
      ),
    );
}
