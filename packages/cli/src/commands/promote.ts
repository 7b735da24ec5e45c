/**
 * @module `cairn promote`: turns a run's model files into a model version that inherits the run's params,
 * final metrics, data inputs and code, with `run` set — the lineage from data through run to model.
 */
import {
  type Bump,
  CairnError,
  checkArtifactName,
  checkRunId,
  checkVersion,
  isBump,
  parseRef,
} from "@cairn/core";
import type { Command } from "commander";
import { collectFiles } from "../local-files.js";
import { collect, defineCommand, withContext } from "../program.js";
import { withRuns } from "../runs-backend.js";
import { readNotes, readTags } from "../values.js";

interface PromoteOptions {
  version?: string;
  bump?: string;
  message?: string;
  notes?: string;
  tag?: string[];
  alias?: string[];
  base?: string;
}

export function registerPromote(program: Command): void {
  defineCommand(program, {
    name: "promote",
    description:
      "make a model version from a run: PATHs (or else the run's logged artifacts) become its files, and it " +
      "inherits the run's params, final metrics, data and code, with the run recorded for lineage",
    examples: [
      "cairn promote $RUN sentiment",
      "cairn promote $RUN sentiment ./out/model.onnx --bump major --alias staging",
      "cairn promote $RUN sentiment --version 2.0.0 -m 'trained on imdb 2.1'",
      "cairn promote $RUN sentiment-ft --base bert-base@1.0.0",
    ],
  })
    .argument("<run>", "the run id")
    .argument("<name>", "the model's name")
    .argument("[path...]", "the model's files or folders (default: the run's artifacts)")
    .option("--version <version>", "exact semver version")
    .option("--bump <part>", "bump major|minor|patch|prerelease from the highest version")
    .option("-m, --message <notes>", "release notes (markdown)")
    .option("--notes <file>", "release notes from a file")
    .option("--tag <key=value>", "a label (repeatable)", collect)
    .option("--alias <alias>", "point this alias at the new version (repeatable)", collect)
    .option("--base <ref>", "the model it was fine-tuned from; recorded as the exact version, for lineage")
    .action(
      withContext(async (ctx, id: string, name: string, paths: string[], opts: PromoteOptions) => {
        if (opts.version !== undefined && opts.bump !== undefined) {
          throw new CairnError("USAGE", "give --version or --bump, not both");
        }
        if (opts.bump !== undefined && !isBump(opts.bump)) {
          throw new CairnError("USAGE", `--bump takes major, minor, patch or prerelease, not ${opts.bump}`);
        }
        checkRunId(id);
        checkArtifactName(name);
        if (opts.base !== undefined) parseRef(opts.base);
        if (opts.version !== undefined) checkVersion(opts.version);
        const notes = await readNotes(opts.message, opts.notes);
        const tags = readTags(opts.tag);
        const local = paths.length > 0 ? await collectFiles(paths) : undefined;
        const version = await withRuns(ctx, (runs) =>
          runs.promote(
            id,
            {
              name,
              tags,
              ...(opts.version !== undefined ? { version: opts.version } : {}),
              ...(opts.bump !== undefined ? { bump: opts.bump as Bump } : {}),
              ...(notes !== undefined ? { notes } : {}),
              ...(opts.alias ? { aliases: opts.alias } : {}),
              ...(opts.base !== undefined ? { base: opts.base } : {}),
            },
            local,
          ),
        );
        ctx.out.result(
          version,
          () =>
            `promoted run ${id} to ${version.name}@${version.version} (#${version.seq})` +
            (version.aliases.length > 0 ? ` → ${version.aliases.join(", ")}` : ""),
        );
      }),
    );
}
