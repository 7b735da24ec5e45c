/**
 * @module The local chunk cache a pull reads from before it asks the server: one file per chunk, named by its
 * BLAKE3, under `CAIRN_CACHE` (default: the user's cache folder). Only chunks whose bytes matched their name
 * are put in, each by temp file and rename, so a reader never sees a partial chunk.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

/** Where chunks are cached when no folder is given: CAIRN_CACHE, else the platform's cache folder. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env["CAIRN_CACHE"]) return env["CAIRN_CACHE"];
  if (env["XDG_CACHE_HOME"]) return join(env["XDG_CACHE_HOME"], "cairn");
  if (process.platform === "darwin") return join(homedir(), "Library", "Caches", "cairn");
  if (process.platform === "win32" && env["LOCALAPPDATA"]) return join(env["LOCALAPPDATA"], "cairn", "Cache");
  return join(homedir(), ".cache", "cairn");
}

const HASH = /^[0-9a-f]{64}$/;

export class ChunkCache {
  readonly dir: string;
  private readonly made = new Set<string>();

  constructor(dir: string) {
    this.dir = dir;
  }

  private path(hash: string): string {
    // A name that is not a hash could climb out of the folder: never let one reach the file system.
    if (!HASH.test(hash)) throw new Error(`not a chunk name: ${hash}`);
    return join(this.dir, "chunks", hash.slice(0, 2), hash);
  }

  async has(hash: string, length: number): Promise<boolean> {
    try {
      return (await stat(this.path(hash))).size === length;
    } catch {
      return false;
    }
  }

  /** The cached bytes, or undefined when the chunk is not cached. */
  async get(hash: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.path(hash));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  }

  /** Caches a chunk whose bytes the caller has checked against its name. */
  async put(hash: string, data: Uint8Array): Promise<void> {
    const target = this.path(hash);
    const folder = join(this.dir, "chunks", hash.slice(0, 2));
    if (!this.made.has(folder)) {
      await mkdir(folder, { recursive: true });
      this.made.add(folder);
    }
    const temp = `${target}.${randomBytes(6).toString("hex")}.partial`;
    try {
      await writeFile(temp, data);
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async evict(hash: string): Promise<void> {
    await rm(this.path(hash), { force: true });
  }
}
