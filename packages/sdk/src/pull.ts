/**
 * @module `pull`: writes a version's files under a folder, fetching only the chunks missing from the local
 * chunk cache. Every fetched chunk is checked against its BLAKE3 before it is cached, every file against its
 * sha256 before it is renamed into place (a damaged cached chunk is found, dropped and fetched again), and no
 * path — through `..` or a symlink — lands outside the folder.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmod, type FileHandle, mkdir, open, realpath, rename, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import {
  type ChunkRef,
  createPortableChunkHasher,
  FrameReader,
  integrity,
  isCairnError,
  normaliseFilePath,
  pullTargetPath,
  TRANSFER_LIMITS,
  type VersionView,
} from "@cairn/core";
import { ChunkCache, defaultCacheDir } from "./chunk-cache.js";
import { RemoteError, unreachable } from "./errors.js";
import { type Http, segment } from "./http.js";
import { withRetries } from "./push.js";
import { reviveVersion } from "./types.js";

export interface PullProgress {
  /** Bytes of the version's files written so far, and in all. */
  bytes: number;
  totalBytes: number;
}

export interface PullOptions {
  /**
   * The chunk cache folder (default: CAIRN_CACHE, else the user's cache folder). `false`: no cache; each file
   * is downloaded whole.
   */
  cache?: string | false;
  onProgress?: (progress: PullProgress) => void;
}

export interface PullResult {
  version: VersionView;
  /** The folder written, absolute. */
  dir: string;
  files: number;
  bytes: number;
  /** Chunks (and their bytes) fetched from the server; the rest came from the cache. */
  fetchedChunks: number;
  fetchedBytes: number;
}

// A fetch asks for at most this many bytes of chunks, so one lost connection costs little.
const FETCH_BYTES = 64 * 1024 * 1024;
const WRITE_BUFFER = 4 * 1024 * 1024;
const STAT_PARALLEL = 64;

/** Writes pieces to a file in large writes. */
class BufferedFile {
  private parts: Uint8Array[] = [];
  private bytes = 0;

  constructor(private readonly handle: FileHandle) {}

  async write(data: Uint8Array): Promise<void> {
    this.parts.push(data);
    this.bytes += data.byteLength;
    if (this.bytes >= WRITE_BUFFER) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.bytes === 0) return;
    const joined = Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    this.bytes = 0;
    await this.handle.write(joined);
  }
}

class Puller {
  fetchedChunks = 0;
  fetchedBytes = 0;
  private readonly hasher = createPortableChunkHasher();

  constructor(
    private readonly http: Http,
    private readonly cache: ChunkCache,
    private readonly retries: number,
  ) {}

  /** Fetches into the cache every chunk of `refs` it does not hold. */
  async ensureCached(refs: readonly ChunkRef[]): Promise<void> {
    const unique = [...new Map(refs.map((r) => [r.hash, r])).values()];
    const missing: ChunkRef[] = [];
    for (let i = 0; i < unique.length; i += STAT_PARALLEL) {
      const group = unique.slice(i, i + STAT_PARALLEL);
      const held = await Promise.all(group.map((r) => this.cache.has(r.hash, r.length)));
      group.forEach((r, k) => {
        if (!held[k]) missing.push(r);
      });
    }
    let batch: ChunkRef[] = [];
    let batchBytes = 0;
    for (const ref of missing) {
      if (batch.length >= TRANSFER_LIMITS.fetchHashes || batchBytes + ref.length > FETCH_BYTES) {
        await this.fetch(batch);
        batch = [];
        batchBytes = 0;
      }
      batch.push(ref);
      batchBytes += ref.length;
    }
    if (batch.length > 0) await this.fetch(batch);
  }

  /** Fetches chunks into the cache; after a dropped connection, asks again for those not yet received. */
  private async fetch(refs: ChunkRef[]): Promise<void> {
    const waiting = new Map(refs.map((r) => [r.hash, r.length]));
    for (let attempt = 0; ; attempt++) {
      try {
        await this.fetchOnce(waiting);
        return;
      } catch (error) {
        if (!(error instanceof RemoteError && error.retryable) || attempt >= this.retries) throw error;
        await new Promise((done) => setTimeout(done, Math.min(200 * 2 ** attempt, 5000)));
      }
    }
  }

  private async fetchOnce(waiting: Map<string, number>): Promise<void> {
    const response = await this.http.send("POST", "/chunks/fetch", { json: { hashes: [...waiting.keys()] } });
    const frames = new FrameReader();
    try {
      for await (const piece of response.body ?? []) {
        for (const chunk of frames.push(piece as Uint8Array)) {
          const length = waiting.get(chunk.hash);
          if (length === undefined)
            throw integrity(`the server sent chunk ${chunk.hash}, which was not asked for`);
          this.hasher.update(chunk.data);
          if (length !== chunk.data.byteLength || this.hasher.digest() !== chunk.hash) {
            // Damaged on the way: worth fetching again.
            throw new RemoteError(0, "INTEGRITY", `chunk ${chunk.hash} arrived damaged`);
          }
          await this.cache.put(chunk.hash, chunk.data);
          waiting.delete(chunk.hash);
          this.fetchedChunks++;
          this.fetchedBytes += length;
        }
      }
    } catch (error) {
      if (isCairnError(error)) throw error;
      throw unreachable(this.http.base, error);
    }
    if (waiting.size > 0) {
      throw new RemoteError(0, "INTEGRITY", `the chunk stream ended ${waiting.size} chunks short`);
    }
  }

  /** Writes the file from cached chunks; true when it has the sha256 it should. */
  async assemble(refs: readonly ChunkRef[], temp: string, sha256: string, onBytes: (n: number) => void) {
    const hash = createHash("sha256");
    const handle = await open(temp, "w");
    try {
      const out = new BufferedFile(handle);
      for (const ref of refs) {
        const data = await this.cache.get(ref.hash);
        if (data === undefined || data.byteLength !== ref.length) return false;
        hash.update(data);
        await out.write(data);
        onBytes(data.byteLength);
      }
      await out.flush();
    } finally {
      await handle.close();
    }
    return hash.digest("hex") === sha256;
  }

  /** Drops cached chunks whose bytes no longer match their names. */
  async dropDamaged(refs: readonly ChunkRef[]): Promise<void> {
    for (const hash of new Set(refs.map((r) => r.hash))) {
      const data = await this.cache.get(hash);
      if (data === undefined) continue;
      this.hasher.update(data);
      if (this.hasher.digest() !== hash) await this.cache.evict(hash);
    }
  }
}

interface ContentChunks {
  sha256: string;
  size: number;
  chunks: ChunkRef[];
}

/** The files route: one file's whole bytes, for a pull without a chunk cache. */
async function downloadWhole(
  http: Http,
  version: VersionView,
  file: VersionView["files"][number],
  temp: string,
  onBytes: (n: number) => void,
): Promise<boolean> {
  const path = file.path.split("/").map(segment).join("/");
  const response = await http.send(
    "GET",
    `/artifacts/${segment(version.name)}/versions/${segment(version.version)}/files/${path}`,
    { headers: { accept: "application/octet-stream" } },
  );
  const hash = createHash("sha256");
  const handle = await open(temp, "w");
  let size = 0;
  try {
    const out = new BufferedFile(handle);
    for await (const piece of response.body ?? []) {
      const bytes = piece as Uint8Array;
      hash.update(bytes);
      size += bytes.byteLength;
      await out.write(bytes);
      onBytes(bytes.byteLength);
    }
    await out.flush();
  } catch (error) {
    throw isCairnError(error) ? error : unreachable(http.base, error);
  } finally {
    await handle.close();
  }
  return size === file.size && hash.digest("hex") === file.sha256;
}

export async function pull(
  http: Http,
  ref: string,
  dir: string,
  options: PullOptions,
  retries: number,
): Promise<PullResult> {
  const version = reviveVersion(await http.json<VersionView>("GET", `/resolve/${segment(ref)}`));
  // Every path is checked before any is written, so a bad entry cannot leave a half-pulled folder behind.
  for (const file of version.files) normaliseFilePath(file.path);
  const root = resolve(dir);
  await mkdir(root, { recursive: true });
  const realRoot = await realpath(root);
  const cache = options.cache === false ? undefined : new ChunkCache(options.cache ?? defaultCacheDir());
  const puller = cache ? new Puller(http, cache, retries) : undefined;
  const totalBytes = version.files.reduce((sum, f) => sum + f.size, 0);
  let done = 0;
  for (const file of version.files) {
    const label = `${version.name}@${version.version}: ${file.path}`;
    const target = await pullTargetPath(root, realRoot, file.path);
    const temp = join(dirname(target), `.${randomBytes(6).toString("hex")}.cairn-partial`);
    let written = 0;
    const onBytes = (n: number) => {
      written += n;
      options.onProgress?.({ bytes: done + written, totalBytes });
    };
    try {
      let whole: boolean;
      if (puller) {
        const list = await withRetries(retries, () =>
          http.json<ContentChunks>("GET", `/contents/${file.sha256}/chunks`),
        );
        if (list.sha256 !== file.sha256 || list.size !== file.size) {
          throw integrity(
            `${label}: the server describes its content as ${list.size} bytes, not ${file.size}`,
          );
        }
        await puller.ensureCached(list.chunks);
        whole = await puller.assemble(list.chunks, temp, file.sha256, onBytes);
        // The cache is a copy anyone can damage: drop what no longer matches its name, fetch it, try once more.
        if (!whole) {
          await puller.dropDamaged(list.chunks);
          written = 0;
          await puller.ensureCached(list.chunks);
          whole = await puller.assemble(list.chunks, temp, file.sha256, onBytes);
        }
      } else {
        whole = await downloadWhole(http, version, file, temp, onBytes);
      }
      if (!whole) throw integrity(`${label}: the bytes received do not match the file's sha256`);
      await chmod(temp, Number.parseInt(file.mode, 8) & 0o777 || 0o644);
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    done += file.size;
  }
  return {
    version,
    dir: root,
    files: version.files.length,
    bytes: totalBytes,
    fetchedChunks: puller?.fetchedChunks ?? 0,
    fetchedBytes: puller?.fetchedBytes ?? totalBytes,
  };
}

/**
 * One stored content's bytes by its sha256 — a version's code patch, say — fetched as chunks through the
 * chunk cache (only missing ones travel) and checked against the sha256 before they are handed back.
 */
export async function readContent(
  http: Http,
  sha256: string,
  options: Pick<PullOptions, "cache">,
  retries: number,
): Promise<Uint8Array> {
  const list = await withRetries(retries, () =>
    http.json<ContentChunks>("GET", `/contents/${sha256}/chunks`),
  );
  const cache = new ChunkCache(options.cache || defaultCacheDir());
  const puller = new Puller(http, cache, retries);
  const assemble = async (): Promise<Buffer | null> => {
    await puller.ensureCached(list.chunks);
    const parts: Uint8Array[] = [];
    for (const ref of list.chunks) {
      const data = await cache.get(ref.hash);
      if (data === undefined || data.byteLength !== ref.length) return null;
      parts.push(data);
    }
    const bytes = Buffer.concat(parts);
    return createHash("sha256").update(bytes).digest("hex") === sha256 ? bytes : null;
  };
  let bytes = await assemble();
  // As in pull: a damaged cached chunk is dropped and fetched again, once.
  if (bytes === null) {
    await puller.dropDamaged(list.chunks);
    bytes = await assemble();
  }
  if (bytes === null) throw integrity(`content ${sha256}: the bytes received do not match its sha256`);
  return bytes;
}
