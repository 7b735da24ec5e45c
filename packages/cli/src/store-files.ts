/**
 * @module Writing local files into the content store (with a progress bar on a terminal), for everything that
 * records files: a push, a run's artifacts, a promoted model. The caller flushes before it commits the record
 * that refers to them, so a crash leaves either no record or a whole one.
 */
import type { CodeInfo, ContentStore, FileEntry } from "@cairn/core";
import type { GitCapture } from "./git.js";
import type { LocalFile } from "./local-files.js";
import { startProgress } from "./progress.js";

export async function storeLocalFiles(
  content: ContentStore,
  local: LocalFile[],
  label: string,
  json: boolean,
  /** sha256 of an earlier version of each path, if any (see `Registry.filesToBuildOn`). */
  earlier: ReadonlyMap<string, string> = new Map(),
): Promise<FileEntry[]> {
  // Loaded here, not at start-up: commands that talk to a server never load the storage drivers.
  const { fileSource } = await import("@cairn/storage");
  const total = local.reduce((sum, f) => sum + f.size, 0);
  const progress = await startProgress(label, total, json);
  const files: FileEntry[] = [];
  let done = 0;
  try {
    for (const file of local) {
      // The chunk store reads a file source straight into its blocks, in large reads.
      const stored = await content.write(fileSource(file.source), {
        previous: earlier.get(file.path),
        onProgress: (bytes) => progress.update(done + bytes),
      });
      done += stored.size;
      files.push({ path: file.path, size: stored.size, mode: file.mode, sha256: stored.sha256 });
    }
  } finally {
    progress.stop();
  }
  return files;
}

export async function* oneChunk(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** The code record of a git capture, its uncommitted patch written to the content store. */
export async function storeCode(content: ContentStore, git: GitCapture | null): Promise<CodeInfo | null> {
  if (!git) return null;
  const patch = git.patch ? (await content.write(oneChunk(git.patch))).sha256 : null;
  return {
    remote: git.remote,
    branch: git.branch,
    commit: git.commit,
    dirty: git.dirty,
    patch,
    path: git.path,
  };
}
