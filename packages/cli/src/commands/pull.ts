/**
 * @module `cairn pull`: writes a version's files under a folder, verified, and never outside it. Each file goes
 * to a temporary name first and is renamed only once its sha256 checks out, so no wrong byte is left behind.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, lstat, mkdir, realpath, rename, rm } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { invalid, normaliseFilePath, type Registry, type Version } from "@cairn/core";
import type { Command } from "commander";
import { formatBytes } from "../output.js";
import { defineCommand, withContext } from "../program.js";
import { startProgress } from "../progress.js";

const WRITE_BUFFER = 4 * 1024 * 1024;

const escapes = (root: string, target: string): boolean => {
  const rel = relative(root, target);
  return rel === ".." || rel.startsWith(`..${sep}`) || resolve(root, rel) !== target;
};

/** Where a stored path lands under `root`; refuses anything that would escape it, including through symlinks. */
async function targetPath(root: string, realRoot: string, stored: string): Promise<string> {
  const path = normaliseFilePath(stored);
  const target = resolve(root, ...path.split("/"));
  if (escapes(root, target)) throw invalid(`refusing to write ${stored}: it would land outside ${root}`);
  await mkdir(dirname(target), { recursive: true });
  // A symlinked folder inside DIR could still lead out of it: check where the parent really is.
  const realParent = await realpath(dirname(target));
  if (escapes(realRoot, realParent))
    throw invalid(`refusing to write ${stored}: a symlink leads outside ${root}`);
  const existing = await lstat(target).catch(() => null);
  if (existing?.isSymbolicLink()) throw invalid(`refusing to write ${stored}: it is a symlink in ${root}`);
  if (existing?.isDirectory()) throw invalid(`cannot write ${stored}: a folder is in the way`);
  return target;
}

export async function pullVersion(
  registry: Registry,
  version: Version,
  dir: string,
  onProgress: (bytes: number) => void = () => {},
): Promise<void> {
  // Check every path before writing any, so a bad entry cannot leave a half-pulled folder behind.
  for (const file of version.files) normaliseFilePath(file.path);
  await mkdir(dir, { recursive: true });
  const root = resolve(dir);
  const realRoot = await realpath(root);
  let done = 0;
  for (const file of version.files) {
    const target = await targetPath(root, realRoot, file.path);
    const temp = join(dirname(target), `.${randomBytes(6).toString("hex")}.cairn-partial`);
    const label = `${version.artifact}@${version.version}: ${file.path}`;
    try {
      const source = registry.content.read(
        { sha256: file.sha256, size: file.size },
        { label, onProgress: (bytes) => onProgress(done + bytes) },
      );
      await pipeline(Readable.from(source), createWriteStream(temp, { highWaterMark: WRITE_BUFFER }));
      await chmod(temp, file.mode & 0o777 || 0o644);
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    done += file.size;
  }
}

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
        const result = await ctx.withRegistry(async (registry) => {
          const version = await registry.resolve(ref);
          const dir = resolve(ctx.cwd, opts.output ?? `${version.artifact}-${version.version}`);
          const total = version.files.reduce((sum, f) => sum + f.size, 0);
          const progress = await startProgress(
            `pull ${version.artifact}@${version.version}`,
            total,
            ctx.out.json,
          );
          try {
            await pullVersion(registry, version, dir, (bytes) => progress.update(bytes));
          } finally {
            progress.stop();
          }
          return {
            name: version.artifact,
            version: version.version,
            dir,
            files: version.files.length,
            size: total,
          };
        });
        ctx.out.result(
          result,
          () =>
            `pulled ${result.name}@${result.version} into ${relative(ctx.cwd, result.dir) || "."} (${result.files} file${result.files === 1 ? "" : "s"}, ${formatBytes(result.size)})`,
        );
      }),
    );
}
