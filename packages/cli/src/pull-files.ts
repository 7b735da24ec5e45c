/**
 * @module Writes a version's files from the local store under a folder, verified, and never outside it. Each
 * file goes to a temporary name first and is renamed only once its sha256 checks out, so no wrong byte is
 * left behind. (A remote pull does the same through the SDK; both place files with core's pullTargetPath.)
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, mkdir, realpath, rename, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { normaliseFilePath, pullTargetPath, type Registry, type Version } from "@cairn/core";

const WRITE_BUFFER = 4 * 1024 * 1024;

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
    const target = await pullTargetPath(root, realRoot, file.path);
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
