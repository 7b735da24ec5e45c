/**
 * @module Where the embedded store is: `CAIRN_HOME` when set (created on first use), else the nearest `.cairn/`
 * found upward from the working folder, the way git finds `.git`.
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { CairnError } from "@cairn/core";

export const STORE_DIR = ".cairn";

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The nearest `.cairn` folder at or above `from`, or null. */
export function findStoreUpward(from: string): string | null {
  let dir = resolve(from);
  for (;;) {
    const candidate = join(dir, STORE_DIR);
    if (isDirectory(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

export function locateStore(cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  const home = env["CAIRN_HOME"];
  if (home) {
    const dir = resolve(cwd, home);
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
    else if (!isDirectory(dir)) throw new CairnError("INVALID", `CAIRN_HOME (${dir}) is not a folder`);
    return dir;
  }
  const found = findStoreUpward(cwd);
  if (found) return found;
  throw new CairnError("NO_STORE", `no cairn store in ${resolve(cwd)} or any folder above it`, {
    hint: "run `cairn init` to create one here, or set CAIRN_HOME to a folder for it",
  });
}
