/**
 * @module The files a push sends: PATH arguments expanded into (relative path, absolute path) pairs. Folders keep
 * their relative layout; a symlink may point anywhere inside the pushed folder but never outside it.
 */
import { type lstat, readdir, realpath, stat } from "node:fs/promises";
import { basename, join, relative, sep } from "node:path";
import { CairnError, invalid, normaliseFilePath } from "@cairn/core";

export interface LocalFile {
  /** Path inside the version. */
  path: string;
  /** Where the bytes are on disk (symlinks resolved). */
  source: string;
  size: number;
  mode: number;
}

// Never pushed from inside a folder: git's own data, and a cairn store (pushing it would nest the store in itself).
const SKIPPED_DIRS = new Set([".git", ".cairn"]);

const isInside = (root: string, target: string): boolean => {
  const rel = relative(root, target);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !rel.startsWith(sep));
};

async function walk(
  root: string,
  realRoot: string,
  dir: string,
  into: LocalFile[],
  seenDirs: Set<string>,
): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const full = join(dir, entry.name);
    const inVersion = relative(root, full).split(sep).join("/");
    if (entry.isSymbolicLink()) {
      let target: string;
      try {
        target = await realpath(full);
      } catch {
        throw invalid(`symlink ${inVersion} is broken`);
      }
      if (!isInside(realRoot, target)) {
        throw invalid(`symlink ${inVersion} points outside the pushed folder (to ${target})`, {
          hint: "copy the file into the folder, or push its target as another PATH",
        });
      }
      const info = await stat(target);
      if (info.isDirectory()) {
        if (seenDirs.has(target)) continue;
        seenDirs.add(target);
        await walk(root, realRoot, full, into, seenDirs);
      } else if (info.isFile()) {
        into.push({
          path: normaliseFilePath(inVersion),
          source: target,
          size: info.size,
          mode: info.mode & 0o777,
        });
      }
      continue;
    }
    if (entry.isDirectory()) {
      if (SKIPPED_DIRS.has(entry.name)) continue;
      await walk(root, realRoot, full, into, seenDirs);
    } else if (entry.isFile()) {
      const info = await stat(full);
      into.push({
        path: normaliseFilePath(inVersion),
        source: full,
        size: info.size,
        mode: info.mode & 0o777,
      });
    }
    // Sockets, FIFOs and devices are not model files: skipped.
  }
}

/** Expands PATH arguments: a file becomes its base name, a folder its contents relative to it. */
export async function collectFiles(paths: string[]): Promise<LocalFile[]> {
  if (paths.length === 0) throw new CairnError("USAGE", "nothing to push: give at least one PATH");
  const files: LocalFile[] = [];
  for (const path of paths) {
    let info: Awaited<ReturnType<typeof lstat>>;
    try {
      info = await stat(path);
    } catch {
      throw invalid(`no such file or folder: ${path}`);
    }
    if (info.isDirectory()) {
      const realRoot = await realpath(path);
      const before = files.length;
      await walk(path, realRoot, path, files, new Set([realRoot]));
      if (files.length === before) throw invalid(`folder ${path} has no files to push`);
    } else if (info.isFile()) {
      files.push({
        path: normaliseFilePath(basename(path)),
        source: await realpath(path),
        size: info.size,
        mode: info.mode & 0o777,
      });
    } else {
      throw invalid(`${path} is not a regular file or folder`);
    }
  }
  const seen = new Map<string, string>();
  for (const file of files) {
    const other = seen.get(file.path);
    if (other !== undefined) {
      throw invalid(`two pushed files would both be stored as ${file.path} (${other} and ${file.source})`, {
        hint: "push them from one folder so their relative paths differ",
      });
    }
    seen.set(file.path, file.source);
  }
  return files;
}
