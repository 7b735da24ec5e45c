/**
 * @module The local-folder blob store: each object is a file at its key's path under one folder. Writes go
 * to a temporary file beside the target, are fsynced, renamed into place and the folder fsynced, so a crash
 * (even kill -9 or power loss) at any moment leaves the whole object or none of it.
 */
import { randomBytes } from "node:crypto";
import type { Dirent } from "node:fs";
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { type BlobInfo, type BlobStore, type ByteSource, invalid, notFound } from "@cairn/core";
import { checkKey, checkPrefix, checkRange, isTempName, TEMP_MARK } from "./_keys.js";
import { readFully } from "./_read-fully.js";
import { FileWriter } from "./direct-io.js";

// Node's default 64 KiB stream buffer costs about 4x in throughput on multi-GB files.
const READ_BUFFER = 1024 * 1024;
// A range (a run of chunks the chunk store reads) comes back in pieces of up to this size, each read with one
// positioned read: one piece per run means no chunk straddles two pieces, so none is copied to be checked.
const RANGE_PIECE = 16 * 1024 * 1024;

const errorCode = (error: unknown): string | undefined =>
  error instanceof Error && "code" in error ? String(error.code) : undefined;

const isMissing = (error: unknown): boolean => {
  const code = errorCode(error);
  return code === "ENOENT" || code === "ENOTDIR";
};

/** `length` bytes from `offset` (fewer if the file ends first), in fresh pieces: a consumer may keep them. */
async function* readRange(handle: FileHandle, offset: number, length: number): AsyncGenerator<Uint8Array> {
  for (let at = offset, end = offset + length; at < end; ) {
    const piece = Buffer.allocUnsafeSlow(Math.min(end - at, RANGE_PIECE));
    const filled = await readFully(handle, piece, at);
    if (filled > 0) yield piece.subarray(0, filled);
    if (filled < piece.length) return;
    at += filled;
  }
}

/** Makes a folder's entries (a rename, a new subfolder) durable. Windows cannot open folders, and needs not. */
async function syncDir(path: string): Promise<void> {
  if (process.platform === "win32") return;
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class FsBlobStore implements BlobStore {
  readonly kind = "fs";
  /** The absolute path of the folder holding the objects. */
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  private pathOf(key: string): string {
    return join(this.dir, ...checkKey(key).split("/"));
  }

  /**
   * Creates the folder for an object and returns the folders whose entries must be fsynced for it to survive
   * a crash: the new folders and the parent of the topmost one.
   */
  private async makeFolder(folder: string): Promise<string[]> {
    let created: string | undefined;
    try {
      created = await mkdir(folder, { recursive: true });
    } catch (error) {
      const code = errorCode(error);
      if (code === "EEXIST" || code === "ENOTDIR") {
        throw invalid(`cannot store under ${folder}: part of that path is an object, not a folder`);
      }
      throw error;
    }
    if (created === undefined) return [];
    const folders: string[] = [];
    for (let d = folder; d !== created && d !== dirname(d); d = dirname(d)) folders.push(d);
    folders.push(created, dirname(created));
    return folders;
  }

  async put(key: string, body: ByteSource | Uint8Array): Promise<void> {
    const target = this.pathOf(key);
    const folder = dirname(target);
    const newFolders = await this.makeFolder(folder);
    const temp = join(folder, TEMP_MARK + randomBytes(8).toString("hex"));
    const file = await FileWriter.create(temp);
    try {
      try {
        if (body instanceof Uint8Array) await file.write(body);
        // Each piece is written before the next is asked for, so the producer may then reuse it (PackWriter).
        else for await (const chunk of body) await file.write(chunk);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      if (errorCode(error) === "EISDIR") throw invalid(`cannot store ${key}: it names a folder of objects`);
      throw error;
    }
    await syncDir(folder);
    for (const f of newFolders) await syncDir(f);
  }

  /** Opens an object for reading; NOT_FOUND when absent. */
  private async openObject(key: string, path: string): Promise<FileHandle> {
    try {
      return await open(path, "r");
    } catch (error) {
      if (isMissing(error) || errorCode(error) === "EISDIR") throw notFound(`no blob ${key}`);
      throw error;
    }
  }

  async *get(key: string, range?: { offset: number; length: number }): AsyncGenerator<Uint8Array> {
    const path = this.pathOf(key);
    if (range) checkRange(range);
    const handle = await this.openObject(key, path);
    let stream: ReturnType<FileHandle["createReadStream"]> | undefined;
    try {
      // A folder opens fine on POSIX; it is not an object.
      if (!(await handle.stat()).isFile()) throw notFound(`no blob ${key}`);
      if (range?.length === 0) return;
      if (range) {
        yield* readRange(handle, range.offset, range.length);
        return;
      }
      stream = handle.createReadStream({ highWaterMark: READ_BUFFER });
      for await (const chunk of stream) yield chunk as Uint8Array;
    } finally {
      // Destroying the stream closes the handle (autoClose), also when the consumer stops early.
      if (stream) stream.destroy();
      else await handle.close();
    }
  }

  /**
   * Reads `target.length` bytes of an object from `offset` straight into `target` (fewer if the object ends
   * first); returns how many. What the chunk store reads runs of chunks with, into buffers it reuses.
   */
  async readInto(key: string, offset: number, target: Uint8Array): Promise<number> {
    checkRange({ offset, length: target.length });
    const handle = await this.openObject(key, this.pathOf(key));
    try {
      return await readFully(handle, target, offset);
    } catch (error) {
      if (errorCode(error) === "EISDIR") throw notFound(`no blob ${key}`);
      throw error;
    } finally {
      await handle.close();
    }
  }

  async head(key: string): Promise<BlobInfo | null> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { key, size: info.size } : null;
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  /** Every object whose key starts with `prefix`, recursively, sorted per folder; temp files are skipped. */
  async *list(prefix: string): AsyncGenerator<BlobInfo> {
    checkPrefix(prefix);
    const slash = prefix.lastIndexOf("/");
    yield* this.walk(slash < 0 ? "" : prefix.slice(0, slash), prefix.slice(slash + 1));
  }

  private async *walk(folderKey: string, namePrefix: string): AsyncGenerator<BlobInfo> {
    const folder = folderKey === "" ? this.dir : join(this.dir, ...folderKey.split("/"));
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (!entry.name.startsWith(namePrefix) || isTempName(entry.name)) continue;
      const key = folderKey === "" ? entry.name : `${folderKey}/${entry.name}`;
      if (entry.isDirectory()) {
        yield* this.walk(key, "");
      } else if (entry.isFile()) {
        try {
          yield { key, size: (await stat(join(folder, entry.name))).size };
        } catch (error) {
          // Deleted while we were listing: it is simply not there any more.
          if (!isMissing(error)) throw error;
        }
      }
    }
  }

  /**
   * Removes an object; absent objects are fine (deleting twice is not an error). Emptied folders are left in
   * place: removing them would race with a concurrent `put` that has just created them.
   */
  async delete(key: string): Promise<void> {
    try {
      await unlink(this.pathOf(key));
    } catch (error) {
      if (isMissing(error)) return;
      // A folder of objects is not an object, so there is nothing to delete (Linux says EISDIR, macOS EPERM).
      const code = errorCode(error);
      if ((code === "EISDIR" || code === "EPERM") && !(await this.head(key))) return;
      throw error;
    }
  }

  async move(from: string, to: string): Promise<void> {
    const source = this.pathOf(from);
    const target = this.pathOf(to);
    if (!(await this.head(from))) throw notFound(`no blob ${from}`);
    if (from === to) return;
    const folder = dirname(target);
    const newFolders = await this.makeFolder(folder);
    try {
      await rename(source, target);
    } catch (error) {
      if (isMissing(error)) throw notFound(`no blob ${from}`);
      if (errorCode(error) === "EISDIR") throw invalid(`cannot move to ${to}: it names a folder of objects`);
      throw error;
    }
    await syncDir(folder);
    if (dirname(source) !== folder) await syncDir(dirname(source));
    for (const f of newFolders) await syncDir(f);
  }

  /**
   * Removes temporary files left by writers that died (kill -9, power loss) and are older than `olderThanMs`
   * (old enough that no live writer still owns them). Returns how many it removed.
   */
  async sweepTemp(olderThanMs: number): Promise<number> {
    if (!Number.isFinite(olderThanMs) || olderThanMs < 0) throw invalid(`invalid age ${olderThanMs}`);
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    const sweep = async (folder: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(folder, { withFileTypes: true });
      } catch (error) {
        if (isMissing(error)) return;
        throw error;
      }
      for (const entry of entries) {
        const path = join(folder, entry.name);
        if (entry.isDirectory()) await sweep(path);
        else if (isTempName(entry.name)) {
          try {
            if ((await stat(path)).mtimeMs <= cutoff) {
              await rm(path, { force: true });
              removed++;
            }
          } catch (error) {
            if (!isMissing(error)) throw error;
          }
        }
      }
    };
    await sweep(this.dir);
    return removed;
  }
}

/** Opens the blob folder `dir`, creating it when absent. */
export async function openFsBlobStore(dir: string): Promise<FsBlobStore> {
  if (typeof dir !== "string" || dir.trim() === "") throw invalid("the blob store needs a folder path");
  const store = new FsBlobStore(dir);
  try {
    await mkdir(store.dir, { recursive: true });
  } catch (error) {
    throw invalid(`cannot use ${store.dir} as the blob folder`, { cause: error });
  }
  return store;
}
