/**
 * @module Environment capture for a run: runtime versions, and the lock files found in the working folder
 * (package-lock.json, requirements.txt, poetry.lock, uv.lock, environment.yml), whose bytes are stored as
 * content so the exact dependency set can be restored later; the run records their sha256.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { arch, platform } from "node:os";
import { join } from "node:path";
import type { ContentStore, JsonObject } from "@cairn/core";
import { oneChunk } from "./store-files.js";

export const LOCK_FILES = [
  "package-lock.json",
  "requirements.txt",
  "poetry.lock",
  "uv.lock",
  "environment.yml",
];
const PYTHON_LOCKS = new Set(["requirements.txt", "poetry.lock", "uv.lock", "environment.yml"]);
const VERSION_TIMEOUT_MS = 3000;

export interface CapturedEnvironment {
  environment: JsonObject;
  /** Lock file name → sha256 of its content, written to the content store. */
  lockFiles: Record<string, string>;
}

/** `python3 --version`, or null when there is none (or it does not answer in time). */
function pythonVersion(): Promise<string | null> {
  return new Promise((resolve) => {
    execFile("python3", ["--version"], { timeout: VERSION_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error) resolve(null);
      else resolve(`${stdout}${stderr}`.trim().replace(/^Python\s+/i, "") || null);
    });
  });
}

/** The environment of `cwd` with each lock file's bytes, for a client that uploads them itself. */
export async function readLockFiles(
  cwd: string,
): Promise<{ environment: JsonObject; lockFiles: Record<string, Uint8Array> }> {
  const lockFiles: Record<string, Uint8Array> = {};
  for (const name of LOCK_FILES) {
    try {
      lockFiles[name] = await readFile(join(cwd, name));
    } catch {
      // Not there: nothing to record.
    }
  }
  const runtime: JsonObject = { node: process.version };
  // Python's version is worth asking for only where a Python project is.
  if (Object.keys(lockFiles).some((name) => PYTHON_LOCKS.has(name))) {
    const python = await pythonVersion();
    if (python) runtime["python"] = python;
  }
  return { environment: { runtime, platform: platform(), arch: arch() }, lockFiles };
}

/** The environment of `cwd`, its lock files written to the content store. */
export async function captureEnvironment(cwd: string, content: ContentStore): Promise<CapturedEnvironment> {
  const { environment, lockFiles: bytes } = await readLockFiles(cwd);
  const lockFiles: Record<string, string> = {};
  for (const [name, file] of Object.entries(bytes))
    lockFiles[name] = (await content.write(oneChunk(file))).sha256;
  return { environment, lockFiles };
}
