/**
 * @module File paths inside a version. One rule decides what a safe relative path is, for push and for pull,
 * so that no stored path can ever point outside the folder it is pulled into.
 */
import { lstat, mkdir, realpath } from "node:fs/promises";
import { dirname, relative, resolve, sep } from "node:path";
import { invalid } from "./errors.js";

const MAX_PATH = 4096;

/**
 * Returns the canonical form of a relative file path (forward slashes, no `.` segments), or throws INVALID
 * for anything that could escape the folder: absolute paths, `..` segments, drive letters, NUL bytes.
 */
export function normaliseFilePath(path: string): string {
  if (path.length === 0 || path.length > MAX_PATH) throw invalid(`invalid file path ${JSON.stringify(path)}`);
  if (path.includes("\0")) throw invalid("file path contains a NUL byte");
  const unified = path.replace(/\\/g, "/");
  if (unified.startsWith("/") || /^[A-Za-z]:/.test(unified)) {
    throw invalid(`file path ${JSON.stringify(path)} is absolute; paths inside a version are relative`);
  }
  const parts: string[] = [];
  for (const part of unified.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") throw invalid(`file path ${JSON.stringify(path)} escapes its folder`);
    parts.push(part);
  }
  if (parts.length === 0) throw invalid(`invalid file path ${JSON.stringify(path)}`);
  return parts.join("/");
}

const escapes = (root: string, target: string): boolean => {
  const rel = relative(root, target);
  return rel === ".." || rel.startsWith(`..${sep}`) || resolve(root, rel) !== target;
};

/**
 * Where a version's stored path lands when pulled under `root` (whose real path is `realRoot`), its parent
 * folders made. Refuses anything that would escape `root`, through `..` or through a symlink inside it, and
 * a symlink or folder standing where the file goes. Embedded and remote pulls both go through here.
 */
export async function pullTargetPath(root: string, realRoot: string, stored: string): Promise<string> {
  const path = normaliseFilePath(stored);
  const target = resolve(root, ...path.split("/"));
  if (escapes(root, target)) throw invalid(`refusing to write ${stored}: it would land outside ${root}`);
  await mkdir(dirname(target), { recursive: true });
  // A symlinked folder inside the folder could still lead out of it: check where the parent really is.
  const realParent = await realpath(dirname(target));
  if (escapes(realRoot, realParent))
    throw invalid(`refusing to write ${stored}: a symlink leads outside ${root}`);
  const existing = await lstat(target).catch(() => null);
  if (existing?.isSymbolicLink()) throw invalid(`refusing to write ${stored}: it is a symlink in ${root}`);
  if (existing?.isDirectory()) throw invalid(`cannot write ${stored}: a folder is in the way`);
  return target;
}
