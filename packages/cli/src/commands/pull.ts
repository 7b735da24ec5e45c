/**
 * @module `cairn pull`: writes a version's files under a folder, verified, and never outside it. Each file goes
 * to a temporary name first and is renamed only once its sha256 checks out, so no wrong byte is left behind.
 */
import { relative, resolve } from "node:path";
import type { Command } from "commander";
import { formatBytes } from "../output.js";
import { defineCommand, withContext } from "../program.js";
import { withBackend } from "../registry-backend.js";

export function registerPull(program: Command): void {
  defineCommand(program, {
    name: "pull",
    description:
      "write a version's files into a folder (default ./NAME-VERSION), byte-identical and verified",
    examples: [
      "cairn pull classifier@production",
      "cairn pull classifier@1.2.0 -o ./model",
      "cairn pull classifier#3 --json",
    ],
  })
    .argument("<ref>", "name@version, name@alias, name@latest, name@^1.2 or name#seq")
    .option("-o, --output <dir>", "folder to write into")
    .action(
      withContext(async (ctx, ref: string, opts: { output?: string }) => {
        const result = await withBackend(ctx, (registry) =>
          registry.pull(ref, (version) =>
            resolve(ctx.cwd, opts.output ?? `${version.name}-${version.version}`),
          ),
        );
        ctx.out.result(
          result,
          () =>
            `pulled ${result.name}@${result.version} into ${relative(ctx.cwd, result.dir) || "."} (${result.files} file${result.files === 1 ? "" : "s"}, ${formatBytes(result.size)})`,
        );
      }),
    );
}
