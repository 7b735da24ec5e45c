/**
 * @module `cairn show`: everything recorded about one version.
 */
import type { Command } from "commander";
import { defineCommand, withContext } from "../program.js";
import { withBackend } from "../registry-backend.js";
import { renderVersion } from "../version-view.js";

export function registerShow(program: Command): void {
  defineCommand(program, {
    name: "show",
    description:
      "show everything recorded about a version: files, params, metrics, data, code, aliases, notes",
    examples: [
      "cairn show classifier@production",
      "cairn show classifier@1.2.0 --json",
      "cairn show classifier#2",
    ],
  })
    .argument("<ref>", "name@version, name@alias, name@latest, name@^1.2 or name#seq")
    .action(
      withContext(async (ctx, ref: string) => {
        const version = await withBackend(ctx, (registry) => registry.resolve(ref));
        ctx.out.result(version, () => renderVersion(version));
      }),
    );
}
