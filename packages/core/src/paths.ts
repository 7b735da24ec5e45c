/**
 * @module File paths inside a version. One rule decides what a safe relative path is, for push and for pull,
 * so that no stored path can ever point outside the folder it is pulled into.
 */
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
