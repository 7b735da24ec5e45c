/**
 * @module `push`: publishes a version from local files over HTTP, sending only the chunks the server lacks.
 * Each file is chunked here; the chunk names are asked about in batches (`chunks/missing`), the missing chunks
 * go up in pack-sized bodies while the next pack fills, a pack whose connection drops is resumed with only
 * the chunks the server still lacks, and the version is committed in one request that the server checks.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import {
  CHUNK_FRAMES_TYPE,
  type ChunkRef,
  copyBytes,
  FRAME_HEADER_SIZE,
  frameHeader,
  invalid,
  MAX_CHUNK_SIZE,
  normaliseFilePath,
  type PublishInput,
  SpareBuffers,
  TRANSFER_LIMITS,
  type VersionView,
} from "@cairn/core";
import {
  type ChunkFile,
  type ChunkFileHints,
  chunkFile,
  type LocalFile,
  type NamedChunk,
} from "./chunk-file.js";
import { RemoteError } from "./errors.js";
import { type Http, segment } from "./http.js";
import { reviveVersion, type UploadSessionView } from "./types.js";

/** One file of a push: where it goes in the version, and its bytes (a local path, or bytes in memory). */
export interface PushFile {
  path: string;
  source: string | Uint8Array;
  /** Permission bits; default: the local file's, or 0644 for bytes. */
  mode?: number;
}

export interface PushProgress {
  /** Bytes of the files chunked so far, and in all. */
  bytesRead: number;
  totalBytes: number;
  /** Bytes of chunks sent to the server so far. */
  bytesSent: number;
}

export interface PushOptions extends Omit<PublishInput, "name" | "files"> {
  name: string;
  files: PushFile[];
  /** The uncommitted code patch, stored as content and recorded as `code.patch`. */
  patch?: Uint8Array;
  onProgress?: (progress: PushProgress) => void;
  /** Cuts files into chunks (default: the client's chunker). */
  chunker?: ChunkFile;
}

export interface PushResult {
  version: VersionView;
  files: number;
  /** Bytes of the files pushed. */
  bytes: number;
  /** Distinct chunks in the files, and of them those the server lacked and was sent. */
  chunks: number;
  sentChunks: number;
  /** Bytes of chunk data sent (a pack resent after a dropped connection counts again). */
  sentBytes: number;
}

export interface TransferSettings {
  /** Bytes of chunks per pack upload (default 16 MiB: CairnClient's). */
  packBytes: number;
  /** Tries after the first for a request that got no answer or a 5xx (default 5). */
  retries: number;
}

// A pack's chunks are asked about once this many wait in it (or it is full), so a question's chunks stay in
// memory only briefly. One question is out while the next pack fills, so chunking does not wait for each answer.
const QUESTION_CHUNKS = 1024;
// A file this big is chunked along its earlier version's chunk list (one request for it); a smaller one is
// chunked faster than the list arrives.
const FOLLOW_MIN_BYTES = 8 * 1024 * 1024;
const READ_PIECE = 1024 * 1024;
const BODY_PIECE = 1024 * 1024;
const HEARTBEAT_MS = 20_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const backoff = (attempt: number) => Math.min(200 * 2 ** attempt, 5000);

/** Runs an idempotent request again while it fails in a way worth retrying. */
export async function withRetries<T>(retries: number, run: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof RemoteError && error.retryable) || attempt >= retries) throw error;
      await sleep(backoff(attempt));
    }
  }
}

interface PreparedFile {
  path: string;
  mode: number;
  size: number;
  open(): AsyncIterable<Uint8Array>;
  /** The local file the bytes are read from, if they are. */
  local?: LocalFile;
}

async function* readPieces(path: string): AsyncIterable<Uint8Array> {
  yield* createReadStream(path, { highWaterMark: READ_PIECE });
}

async function* inPieces(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += READ_PIECE) yield bytes.subarray(at, at + READ_PIECE);
}

/** Checks every file before anything is sent: a bad path or a missing file fails the push at once. */
async function prepare(files: PushFile[]): Promise<PreparedFile[]> {
  if (files.length === 0) throw invalid("a version needs at least one file");
  const seen = new Set<string>();
  const prepared: PreparedFile[] = [];
  for (const file of files) {
    const path = normaliseFilePath(file.path);
    if (seen.has(path)) throw invalid(`file ${path} is given twice`);
    seen.add(path);
    const { source } = file;
    if (typeof source === "string") {
      const info = await stat(source).catch((error: unknown) => {
        throw invalid(`cannot read ${source}: ${(error as Error).message}`);
      });
      if (!info.isFile()) throw invalid(`${source} is not a file`);
      prepared.push({
        path,
        mode: (file.mode ?? info.mode) & 0o777,
        size: info.size,
        // Opened only when read: a chunker given the path may read the file itself.
        open: () => readPieces(source),
        local: { path: source },
      });
    } else if (source instanceof Uint8Array) {
      prepared.push({
        path,
        mode: (file.mode ?? 0o644) & 0o777,
        size: source.byteLength,
        open: () => inPieces(source),
      });
    } else {
      throw invalid(`file ${path}: give its source as a local path or as bytes`);
    }
  }
  return prepared;
}

/** One pack upload's body being built: chunk frames back to back, and where each frame starts. */
interface Pack {
  buffer: Buffer;
  used: number;
  frames: { hash: string; at: number; length: number }[];
  /** Its first chunk begins a file: the server hashes that file from here (see `beginFile`). */
  startsFile: boolean;
}

/**
 * Packs on the wire at once. A server answers a pack once it is durable, which takes about as long as the pack
 * took to arrive (the disk finishing its writes, fsync, the index); with three, the next pack's bytes are
 * already waiting when the one before it has arrived. Measured (1 GiB over loopback, cold): two 3.55-3.67 s,
 * three 3.26-3.50 s, four no faster. With one pack filling and one asked about meanwhile, at most five are held.
 */
const PACKS_IN_FLIGHT = 3;

/**
 * Decides which chunks go up and sends them. Each distinct chunk is framed into the pack being filled as it is
 * offered — one copy, so a chunker may hand out views of memory it reuses for the next chunk. A full pack's
 * chunks are asked about in one question while the next pack fills; the frames of chunks the server holds are
 * dropped (the rest move together), and what is left is sent, at most PACKS_IN_FLIGHT packs on the wire.
 *
 * Framing before asking, not after: a new file's chunks are nearly all missing, and copying each into a
 * question's buffer and then into a pack cost a second copy of the whole file (from the chunker's shared
 * memory, which V8 copies slowly). A new version of a file wastes a copy of the chunks the server has instead,
 * which it would have made into the question's buffer anyway.
 */
class PackSender {
  private readonly offered = new Set<string>();
  // Reused, not fresh per pack (see SpareBuffers): the one filling, the one asked about, those on the wire.
  private readonly packs: SpareBuffers;
  private pack: Pack | undefined;
  private packCount = 0;
  private readonly inFlight = new Set<Promise<void>>();
  /** The next pack begins a file. */
  private fileStarts = false;
  /** The pack asked about now; packs are asked about one at a time, so they go up in the files' chunk order. */
  private asking: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;
  sentChunks = 0;
  sentBytes = 0;

  constructor(
    private readonly http: Http,
    private readonly base: string,
    private readonly settings: TransferSettings,
    private readonly onSent: () => void,
  ) {
    // Room for a full pack plus the frame that crosses the mark.
    this.packs = new SpareBuffers(
      settings.packBytes + FRAME_HEADER_SIZE + MAX_CHUNK_SIZE,
      PACKS_IN_FLIGHT + 2,
    );
  }

  get chunks(): number {
    return this.offered.size;
  }

  async offer(chunk: NamedChunk): Promise<void> {
    if (this.offered.has(chunk.hash)) return;
    this.offered.add(chunk.hash);
    if (!this.pack) {
      this.pack = { buffer: this.packs.take(), used: 0, frames: [], startsFile: this.fileStarts };
      this.fileStarts = false;
    }
    const pack = this.pack;
    const length = chunk.data.byteLength;
    pack.frames.push({ hash: chunk.hash, at: pack.used, length });
    frameHeader(chunk.hash, length, pack.buffer, pack.used);
    // Out of the chunker's shared blocks: copyBytes, not set (twice as fast from shared memory).
    copyBytes(pack.buffer, pack.used + FRAME_HEADER_SIZE, chunk.data);
    pack.used += FRAME_HEADER_SIZE + length;
    if (pack.used >= this.settings.packBytes || pack.frames.length >= QUESTION_CHUNKS) await this.askNext();
  }

  /**
   * A file begins: its chunks go in packs of their own, the first marked as beginning it, and the pack with
   * its last chunk ends there (`endFile`). The server hashes what arrives from a marked pack on, so it knows
   * the file's sha256 without reading it back, whatever was sent before it; a file that shared packs with
   * another would be read back. Only for large files: a push of many small ones keeps its packs full.
   */
  async beginFile(): Promise<void> {
    await this.askNext();
    this.fileStarts = true;
  }

  async endFile(): Promise<void> {
    await this.askNext();
    this.fileStarts = false;
  }

  /** Sends everything still waiting and waits for the last pack. */
  async finish(): Promise<void> {
    await this.askNext();
    await this.asking;
    this.rethrow();
    await Promise.all(this.inFlight);
    this.rethrow();
  }

  /** Throws the first failure of a question or an upload that ran on its own. */
  private rethrow(): void {
    if (this.failure) throw this.failure.error;
  }

  /** Puts the filled pack's question out once the one before it is answered (and its pack on its way). */
  private async askNext(): Promise<void> {
    const pack = this.pack;
    this.pack = undefined;
    await this.asking;
    this.rethrow();
    if (!pack) return;
    // Kept as a promise that never rejects, like an upload: its failure is thrown by the next caller.
    this.asking = this.askAndShip(pack).catch((error: unknown) => {
      this.failure ??= { error };
    });
  }

  /** Keeps only the frames of chunks the server lacks and sends them, if any are left. */
  private async askAndShip(pack: Pack): Promise<void> {
    let shipped = false;
    try {
      const missing = await this.missing(pack.frames.map((f) => f.hash));
      keepFrames(pack, (hash) => missing.has(hash));
      if (pack.frames.length > 0) {
        await this.ship(pack);
        shipped = true;
      }
    } finally {
      if (!shipped) this.packs.give(pack.buffer);
    }
  }

  /** Which of `hashes` the server lacks (and, from now on, holds for this session). */
  async missing(hashes: string[]): Promise<Set<string>> {
    const missing = new Set<string>();
    for (let i = 0; i < hashes.length; i += TRANSFER_LIMITS.missingHashes) {
      const hashesBatch = hashes.slice(i, i + TRANSFER_LIMITS.missingHashes);
      const answer = await withRetries(this.settings.retries, () =>
        this.http.json<{ missing: string[] }>("POST", `${this.base}/chunks/missing`, {
          json: { hashes: hashesBatch },
        }),
      );
      for (const hash of answer.missing) missing.add(hash);
    }
    return missing;
  }

  /** Puts the pack on the wire once fewer than PACKS_IN_FLIGHT are; its buffer is given back when it is sent. */
  private async ship(pack: Pack): Promise<void> {
    while (this.inFlight.size >= PACKS_IN_FLIGHT) await Promise.race(this.inFlight);
    this.rethrow();
    const n = ++this.packCount;
    // Kept as a promise that never rejects, so a failure waits to be thrown here, not as an unhandled one.
    const upload = this.upload(n, pack)
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => {
        this.packs.give(pack.buffer);
        this.inFlight.delete(upload);
      });
    this.inFlight.add(upload);
  }

  /**
   * Sends one pack. After a dropped connection (or a 5xx) the server has kept every whole chunk it received:
   * ask again which it lacks, and send only those (their frames moved together at the front of the buffer).
   */
  private async upload(n: number, pack: Pack): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        this.sentBytes += pack.used;
        await this.http.json("PUT", `${this.base}/packs/${n}${pack.startsFile ? "?file=start" : ""}`, {
          body: streamOf(pack.buffer.subarray(0, pack.used)),
          headers: { "content-type": CHUNK_FRAMES_TYPE },
        });
        this.sentChunks += pack.frames.length;
        this.onSent();
        return;
      } catch (error) {
        if (!(error instanceof RemoteError && error.retryable) || attempt >= this.settings.retries)
          throw error;
        await sleep(backoff(attempt));
        const missing = await this.missing(pack.frames.map((f) => f.hash));
        keepFrames(pack, (hash) => missing.has(hash));
        if (pack.frames.length === 0) return;
      }
    }
  }
}

/**
 * Bytes as a stream body, in large pieces. Not the bytes themselves: fetch copies a byte body whole before
 * sending it (as the Fetch standard says), a second copy of every pack into fresh memory.
 */
function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.subarray(at, at + BODY_PIECE));
      at += BODY_PIECE;
    },
  });
}

/** Keeps only the frames `keep` accepts, moved together in order at the front of the pack's buffer. */
function keepFrames(pack: Pack, keep: (hash: string) => boolean): void {
  const kept: Pack["frames"] = [];
  let used = 0;
  for (const frame of pack.frames) {
    if (!keep(frame.hash)) continue;
    const size = FRAME_HEADER_SIZE + frame.length;
    // Never forward: a kept frame only moves towards the front, so copyWithin reads bytes not yet overwritten.
    // Frames before the first dropped one stay where they are (a new file's pack moves nothing).
    if (frame.at !== used) pack.buffer.copyWithin(used, frame.at, frame.at + size);
    kept.push({ ...frame, at: used });
    used += size;
  }
  pack.frames = kept;
  pack.used = used;
}

interface ContentBody {
  /** Unknown until the server names the file, when it was left to do so (see `serverNames`). */
  sha256: string | undefined;
  size: number;
  chunks: ChunkRef[];
}

/**
 * Whether the server is left to name a file by its sha256 (the chunker then skips it): a large file with no
 * earlier version to follow. Its chunks are nearly all new, so they go up in order and the server hashes them
 * as they arrive anyway; a sha256 here as well was a second pass over every byte (a GiB costs as much CPU as
 * cutting it into chunks), on cores a server on the same machine shares. A file that follows an earlier
 * version, or a small one, is hashed here: most of its chunks are not sent, so the server would have to read
 * it back to name it. (The same large file pushed under a new name is known to the server by its chunks.)
 * Only a server that says it names files (`namesFiles`, from when it could) is left to.
 */
const serverNames = (size: number, previous: readonly ChunkRef[] | undefined): boolean =>
  size >= FOLLOW_MIN_BYTES && previous === undefined;

export async function push(
  http: Http,
  options: PushOptions,
  settings: TransferSettings,
  defaultChunker: ChunkFile = chunkFile,
): Promise<PushResult> {
  const { name, files: given, patch, onProgress, chunker = defaultChunker, ...publish } = options;
  if (typeof name !== "string" || name === "") throw invalid("push needs the artifact's name");
  if (patch !== undefined && !publish.code)
    throw invalid("a code patch needs the code it applies to (`code`)");
  const sent = await uploadFiles(
    http,
    {
      files: given,
      chunker,
      earlier: earlierChunkLists(http, versionToBuildOn(http, name, publish.base)),
      ...(patch !== undefined ? { patch } : {}),
      ...(onProgress ? { onProgress } : {}),
    },
    settings,
    (upload, entries, patchSha) => {
      const code = patchSha === null ? publish.code : { ...publish.code!, patch: patchSha };
      // Not retried: a lost answer to a commit with `bump` could otherwise publish two versions.
      return http.json<VersionView>("POST", `/artifacts/${segment(name)}/versions`, {
        json: { ...publish, ...(code !== undefined ? { code } : {}), upload, files: entries },
      });
    },
  );
  return { ...sent.stats, version: reviveVersion(sent.result) };
}

/**
 * The chunk lists of the files an upload most likely changes, by path, for its files to be chunked along
 * (see ChunkFile). `files` names them (path → sha256); it is called when the first file of FOLLOW_MIN_BYTES or
 * more asks (a push of small files never does), and each list is fetched when its file is about to be chunked.
 * This is only help: files or a list the server cannot give are none.
 */
export function earlierChunkLists(
  http: Http,
  files: () => Promise<ReadonlyMap<string, string>>,
): (path: string) => Promise<readonly ChunkRef[] | undefined> {
  let known: Promise<ReadonlyMap<string, string>> | undefined;
  return async (path) => {
    known ??= files().catch(() => new Map());
    const sha256 = (await known).get(path);
    if (sha256 === undefined) return undefined;
    const content = await http
      .json<{ chunks: ChunkRef[] }>("GET", `/contents/${segment(sha256)}/chunks`)
      .catch(() => undefined);
    return content?.chunks;
  };
}

/**
 * The files of the version a new version of `name` most likely changes: `base` if given, else the artifact's
 * last pushed version (as `Registry.filesToBuildOn` picks for a local push); none for a new artifact or a base
 * that does not resolve (the commit reports that).
 */
export function versionToBuildOn(
  http: Http,
  name: string,
  base: string | null | undefined,
): () => Promise<Map<string, string>> {
  return async () => {
    let ref = base;
    if (!ref) {
      const artifact = await http
        .json<{ versionCount: number }>("GET", `/artifacts/${segment(name)}`)
        .catch(() => undefined);
      if (!artifact || artifact.versionCount === 0) return new Map();
      ref = `${name}#${artifact.versionCount}`; // sequence numbers count the versions from 1
    }
    const version = await http.json<VersionView>("GET", `/resolve/${segment(ref)}`).catch(() => undefined);
    return new Map(version?.files.map((f) => [f.path, f.sha256]));
  };
}

/** A file as a commit names it: its content by sha256, its mode in octal. */
export interface UploadedFile {
  path: string;
  size: number;
  sha256: string;
  mode: string;
}

export interface UploadOptions {
  files: PushFile[];
  patch?: Uint8Array;
  onProgress?: (progress: PushProgress) => void;
  chunker: ChunkFile;
  /** The chunk list of an earlier version of the file at a path, to chunk along (see ChunkFile). */
  earlier?: (path: string) => Promise<readonly ChunkRef[] | undefined>;
}

/**
 * Sends the chunks of `files` (and `patch`) the server lacks through one upload session, records each file as
 * its chunks, then runs `commit` with the session id and the files, which records whatever refers to them
 * (a version, a run's artifacts) and ends the session.
 */
export async function uploadFiles<T>(
  http: Http,
  options: UploadOptions,
  settings: TransferSettings,
  commit: (upload: string, files: UploadedFile[], patch: string | null) => Promise<T>,
): Promise<{ result: T; stats: Omit<PushResult, "version"> }> {
  const { files: given, patch, onProgress, chunker, earlier } = options;
  const files = await prepare(given);
  const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
  let bytesRead = 0;
  const session = await http.json<UploadSessionView>("POST", "/uploads");
  const base = `/uploads/${session.id}`;
  // Long local chunking between requests must not let the session expire.
  const heartbeat = setInterval(() => {
    http.send("POST", `${base}/heartbeat`).catch(() => {});
  }, HEARTBEAT_MS);
  heartbeat.unref();
  const report = () => onProgress?.({ bytesRead, totalBytes, bytesSent: sender.sentBytes });
  const sender = new PackSender(http, base, settings, report);
  try {
    // Each distinct file once: by sha256 where it is known here, else as it comes (the server then names it).
    const contents: ContentBody[] = [];
    const known = new Map<string, ContentBody>();
    const chunkOne = async (
      source: AsyncIterable<Uint8Array>,
      hints: ChunkFileHints,
    ): Promise<ContentBody> => {
      const chunked = chunker(source, hints);
      const chunks: ChunkRef[] = [];
      for await (const chunk of chunked) {
        chunks.push({ hash: chunk.hash, length: chunk.data.byteLength });
        await sender.offer(chunk);
        bytesRead += chunk.data.byteLength;
        report();
      }
      const content: ContentBody = { sha256: chunked.sha256, size: chunked.size, chunks };
      if (content.sha256 === undefined) {
        contents.push(content);
        return content;
      }
      const same = known.get(content.sha256);
      if (same) return same;
      known.set(content.sha256, content);
      contents.push(content);
      return content;
    };
    const chunked: { file: PreparedFile; content: ContentBody }[] = [];
    for (const file of files) {
      const previous = earlier && file.size >= FOLLOW_MIN_BYTES ? await earlier(file.path) : undefined;
      const hints: ChunkFileHints = {
        ...(file.local ? { local: file.local } : {}),
        ...(previous ? { previous } : {}),
        ...(session.namesFiles === true && serverNames(file.size, previous) ? { sha256: false } : {}),
      };
      const large = file.size >= FOLLOW_MIN_BYTES;
      if (large) await sender.beginFile();
      chunked.push({ file, content: await chunkOne(file.open(), hints) });
      if (large) await sender.endFile();
    }
    const patchContent = patch === undefined ? undefined : await chunkOne(inPieces(patch), {});
    await sender.finish();
    // Only now are all chunks on the server: record each file as its chunks (the server checks them, and
    // names those left to it).
    for (const content of contents) {
      const answer = await withRetries(settings.retries, () =>
        http.json<{ sha256: string }>("POST", `${base}/contents`, {
          json: {
            ...(content.sha256 !== undefined ? { sha256: content.sha256 } : {}),
            size: content.size,
            chunks: content.chunks,
          },
        }),
      );
      content.sha256 = answer.sha256;
    }
    const entries: UploadedFile[] = chunked.map(({ file, content }) => ({
      path: file.path,
      size: content.size,
      sha256: content.sha256!,
      mode: file.mode.toString(8).padStart(4, "0"),
    }));
    const patchSha = patchContent === undefined ? null : patchContent.sha256!;
    const result = await commit(session.id, entries, patchSha);
    return {
      result,
      stats: {
        files: files.length,
        bytes: totalBytes,
        chunks: sender.chunks,
        sentChunks: sender.sentChunks,
        sentBytes: sender.sentBytes,
      },
    };
  } catch (error) {
    // Refused: release the session's claims at once rather than when it expires. Cut off: leave it to expire,
    // as the server may still be storing the whole chunks of a cut pack for it, which a retry then need not send.
    if (!(error instanceof RemoteError && error.status === 0))
      await http.send("DELETE", base).catch(() => {});
    throw error;
  } finally {
    clearInterval(heartbeat);
  }
}
