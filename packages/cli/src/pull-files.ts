/**
 * @module Writes a version's files from the local store under a folder, verified, and never outside it. Each
 * file goes to a temporary name first and is renamed only once its sha256 checks out, so no wrong byte is
 * left behind. (A remote pull does the same through the SDK; both place files with core's pullTargetPath.)
 */
import { randomBytes } from "node:crypto";
import { chmod, type FileHandle, mkdir, open, realpath, rename, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { type ByteSource, normaliseFilePath, pullTargetPath, type Registry, type Version } from "@cairn/core";

// Largest single write. The store hands out runs of chunks of up to 8 MiB; written whole, the kernel's copy
// of a run into the page cache no longer finds it in the CPU cache and costs about twice the system time.
const WRITE_BYTES = 1024 * 1024;

/**
 * Writes each piece as it comes with positioned writes of up to WRITE_BYTES: no stream in between to split,
 * queue or copy them.
 */
async function writeFile(handle: FileHandle, source: ByteSource): Promise<void> {
  let at = 0;
  for await (const piece of source) {
    for (let done = 0; done < piece.byteLength; ) {
      const length = Math.min(piece.byteLength - done, WRITE_BYTES);
      const { bytesWritten } = await handle.write(piece, done, length, at + done);
      done += bytesWritten;
    }
    at += piece.byteLength;
  }
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
    const target = await pullTargetPath(root, realRoot, file.path);
    const temp = join(dirname(target), `.${randomBytes(6).toString("hex")}.cairn-partial`);
    const label = `${version.artifact}@${version.version}: ${file.path}`;
    try {
      const source = registry.content.read(
        { sha256: file.sha256, size: file.size },
        // Each piece is written before the next is asked for, so the store may reuse its buffers.
        { label, onProgress: (bytes) => onProgress(done + bytes), transient: true },
      );
      const handle = await open(temp, "wx");
      try {
        await writeFile(handle, source);
      } finally {
        await handle.close();
      }
      await chmod(temp, file.mode & 0o777 || 0o644);
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    done += file.size;
  }
}
