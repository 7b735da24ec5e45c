/**
 * @module `cairn push`: store files durably, then record the version in one transaction — so a crash at any
 * moment leaves either no version or a whole one.
 */
import {
  ARTIFACT_TYPES,
  type ArtifactType,
  type Bump,
  CairnError,
  checkAliasName,
  checkArtifactName,
  checkVersion,
  isBump,
  parseRef,
} from "@cairn/core";
import type { Command } from "commander";
import { captureGit } from "../git.js";
import { collectFiles } from "../local-files.js";
import { formatBytes } from "../output.js";
import { collect, defineCommand, withContext } from "../program.js";
import { withBackend } from "../registry-backend.js";
import { getReadyToChunk } from "../remote-chunker.js";
import { readMetrics, readNotes, readParams, readTags } from "../values.js";

interface PushOptions {
  version?: string;
  bump?: string;
  type?: string;
  params?: string;
  param?: string[];
  metrics?: string;
  metric?: string[];
  message?: string;
  notes?: string;
  data?: string[];
  tag?: string[];
  alias?: string[];
  base?: string;
}

export function registerPush(program: Command): void {
  defineCommand(program, {
    name: "push",
    description:
      "record files or folders as a new version of NAME, with params, metrics, data, code (git) and notes. " +
      "Prints the new version. Without --version the first push is 0.1.0 and later ones bump minor.",
    examples: [
      "cairn push classifier model.onnx --metric accuracy=0.93 --param lr=0.01",
      "cairn push classifier ./out --bump major -m 'new architecture' --alias staging",
      "cairn push imdb ./data --type dataset",
      "cairn push classifier ./out --params params.yaml --metrics metrics.json --data imdb@1.0.0",
      "cairn push classifier-small ./distilled --base classifier@production",
    ],
  })
    .argument("<name>", "artifact name (letters, digits, . _ -)")
    .argument(
      "<path...>",
      "files or folders to store (folders keep relative paths; .git and .cairn are skipped)",
    )
    .option("--version <version>", "exact semver version, e.g. 1.2.0 or 2.0.0-rc.1")
    .option("--bump <part>", "bump major|minor|patch|prerelease from the highest version")
    .option("--type <type>", "model or dataset (default: model, or the artifact's type)")
    .option("--params <file>", "hyperparameters from a JSON or YAML file")
    .option("--param <key=value>", "one hyperparameter (repeatable)", collect)
    .option("--metrics <file>", "metrics from a JSON or YAML file")
    .option("--metric <key=value>", "one metric (repeatable)", collect)
    .option("-m, --message <notes>", "release notes (markdown)")
    .option("--notes <file>", "release notes from a file")
    .option("--data <ref>", "a dataset version it was made from, e.g. imdb@1.0.0 (repeatable)", collect)
    .option("--tag <key=value>", "a label (repeatable)", collect)
    .option("--alias <alias>", "point this alias at the new version (repeatable)", collect)
    .option(
      "--base <ref>",
      "the version it derives from (fine-tuned or distilled from); recorded exact, for lineage",
    )
    .action(
      withContext(async (ctx, name: string, paths: string[], opts: PushOptions) => {
        if (opts.version !== undefined && opts.bump !== undefined) {
          throw new CairnError("USAGE", "give --version or --bump, not both");
        }
        if (opts.bump !== undefined && !isBump(opts.bump)) {
          throw new CairnError("USAGE", `--bump takes major, minor, patch or prerelease, not ${opts.bump}`);
        }
        if (opts.type !== undefined && !(ARTIFACT_TYPES as readonly string[]).includes(opts.type)) {
          throw new CairnError("USAGE", `--type takes model or dataset, not ${opts.type}`);
        }
        // Read everything that can fail on bad input before storing a single byte.
        checkArtifactName(name);
        if (opts.version !== undefined) checkVersion(opts.version);
        for (const alias of opts.alias ?? []) checkAliasName(alias);
        for (const ref of opts.data ?? []) parseRef(ref);
        if (opts.base !== undefined) parseRef(opts.base);
        const params = await readParams(opts.params, opts.param);
        const metrics = await readMetrics(opts.metrics, opts.metric);
        const tags = readTags(opts.tag);
        const notes = await readNotes(opts.message, opts.notes);
        const local = await collectFiles(paths);
        if (ctx.remote) getReadyToChunk(local);
        const git = await captureGit(paths, ctx.cwd);

        const version = await withBackend(ctx, async (registry) => {
          // A missing dataset or base is found out before the upload, not after it (publishing checks again).
          for (const ref of [...(opts.data ?? []), ...(opts.base !== undefined ? [opts.base] : [])])
            await registry.resolve(ref);
          return registry.publish(
            {
              name,
              params,
              metrics,
              tags,
              ...(opts.type !== undefined ? { type: opts.type as ArtifactType } : {}),
              ...(opts.version !== undefined ? { version: opts.version } : {}),
              ...(opts.bump !== undefined ? { bump: opts.bump as Bump } : {}),
              ...(notes !== undefined ? { notes } : {}),
              ...(opts.data ? { data: opts.data } : {}),
              ...(opts.alias ? { aliases: opts.alias } : {}),
              ...(opts.base !== undefined ? { base: opts.base } : {}),
            },
            local,
            git,
          );
        });
        const size = version.files.reduce((sum, f) => sum + f.size, 0);
        ctx.out.result(
          version,
          () =>
            `pushed ${version.name}@${version.version} (#${version.seq}, ${version.files.length} file${version.files.length === 1 ? "" : "s"}, ${formatBytes(size)})` +
            (version.aliases.length > 0 ? ` → ${version.aliases.join(", ")}` : ""),
        );
      }),
    );
}
