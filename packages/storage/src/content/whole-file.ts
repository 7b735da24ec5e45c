/**
 * @module The whole-file content store: each file's bytes are one blob named by their sha256
 * (`files/ab/ab12…`), over any BlobStore. The chunk store later replaces it behind the same interface.
 */
import { createHash, randomUUID } from "node:crypto";
import {
  type BlobStore,
  type ByteSource,
  type ContentReadOptions,
  type ContentStore,
  type ContentWriteOptions,
  integrity,
  invalid,
  isCairnError,
  type StoredContent,
} from "@cairn/core";

const SHA256 = /^[0-9a-f]{64}$/;
const FILES = "files/";
// In-flight writes stream here under `<epoch ms>-<uuid>`, so debris from a dead writer can be aged by its key
// alone (an object store has no cheap mtime listing).
const STAGING = "staging/";

/** The blob key of a file's content. */
export const contentKey = (sha256: string): string => `${FILES}${sha256.slice(0, 2)}/${sha256}`;

function checkSha256(sha256: string): string {
  if (typeof sha256 !== "string" || !SHA256.test(sha256)) {
    throw invalid(`invalid sha256 ${JSON.stringify(sha256)}: expected 64 lower-case hex digits`);
  }
  return sha256;
}

function checkContent(content: StoredContent): StoredContent {
  checkSha256(content.sha256);
  if (!Number.isSafeInteger(content.size) || content.size < 0) {
    throw invalid(`invalid content size ${content.size}`);
  }
  return content;
}

export class WholeFileContentStore implements ContentStore {
  readonly blobs: BlobStore;

  constructor(blobs: BlobStore) {
    this.blobs = blobs;
  }

  /**
   * Streams the source into a staging object while hashing it (memory stays bounded whatever the size), then
   * names it by its hash. Content already stored at the right size is kept and the new copy dropped; a stored
   * copy of the wrong size (damaged) is replaced.
   */
  async write(source: ByteSource, options: ContentWriteOptions = {}): Promise<StoredContent> {
    const staging = `${STAGING}${Date.now()}-${randomUUID()}`;
    const hash = createHash("sha256");
    let size = 0;
    const { onProgress } = options;
    async function* hashing(): AsyncGenerator<Uint8Array> {
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.byteLength;
        onProgress?.(size);
        yield chunk;
      }
    }
    try {
      await this.blobs.put(staging, hashing());
      const sha256 = hash.digest("hex");
      const key = contentKey(sha256);
      const existing = await this.blobs.head(key);
      if (existing !== null && existing.size === size) await this.blobs.delete(staging);
      else await this.blobs.move(staging, key);
      return { sha256, size };
    } catch (error) {
      await this.blobs.delete(staging).catch(() => {});
      throw error;
    }
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.blobs.head(contentKey(checkSha256(sha256)))) !== null;
  }

  /**
   * Streams the content, hashing as it goes. The hash of a whole file is known only at its end, so the last
   * piece is held back until it checks: a damaged file never arrives complete, and the error comes before
   * the stream ends (see the port: consumers keep the bytes in a temp file until then). A stored copy that is
   * missing or longer than recorded fails as soon as that is known.
   */
  async *read(content: StoredContent, options: ContentReadOptions = {}): AsyncGenerator<Uint8Array> {
    const { sha256, size } = checkContent(content);
    const label = options.label ?? `content ${sha256.slice(0, 12)}…`;
    const hash = createHash("sha256");
    let seen = 0;
    let yielded = 0;
    let held: Uint8Array | undefined;
    try {
      for await (const chunk of this.blobs.get(contentKey(sha256))) {
        seen += chunk.byteLength;
        if (seen > size) throw integrity(`${label}: the stored copy is longer than its ${size} bytes`);
        hash.update(chunk);
        if (held !== undefined) {
          yield held;
          yielded += held.byteLength;
          options.onProgress?.(yielded);
        }
        held = chunk;
      }
    } catch (error) {
      if (isCairnError(error, "NOT_FOUND")) {
        throw integrity(`${label}: its content (sha256 ${sha256}) is missing from the store`, {
          cause: error,
        });
      }
      throw error;
    }
    if (seen !== size) throw integrity(`${label}: the stored copy has ${seen} bytes, not ${size}`);
    const actual = hash.digest("hex");
    if (actual !== sha256) {
      throw integrity(`${label}: the stored copy is damaged (sha256 ${actual}, expected ${sha256})`);
    }
    if (held !== undefined) {
      yield held;
      options.onProgress?.(seen);
    }
  }

  async verify(content: StoredContent, options: ContentReadOptions = {}): Promise<void> {
    for await (const _ of this.read(content, options)) {
      // Reading is the check.
    }
  }

  async *list(): AsyncGenerator<StoredContent> {
    for await (const blob of this.blobs.list(FILES)) {
      const sha256 = blob.key.slice(blob.key.lastIndexOf("/") + 1);
      // Anything else under files/ is not ours to report (and never a GC root or victim).
      if (SHA256.test(sha256) && blob.key === contentKey(sha256)) yield { sha256, size: blob.size };
    }
  }

  async remove(sha256: string): Promise<void> {
    await this.blobs.delete(contentKey(checkSha256(sha256)));
  }

  /**
   * Deletes staging objects of writes that started more than `olderThanMs` ago (their writer died, or is
   * stuck). Returns how many it removed.
   */
  async sweepStaging(olderThanMs: number): Promise<number> {
    if (!Number.isFinite(olderThanMs) || olderThanMs < 0) throw invalid(`invalid age ${olderThanMs}`);
    const cutoff = Date.now() - olderThanMs;
    const stale: string[] = [];
    for await (const blob of this.blobs.list(STAGING)) {
      const started = Number(blob.key.slice(STAGING.length).split("-", 1)[0]);
      if (Number.isFinite(started) && started <= cutoff) stale.push(blob.key);
    }
    for (const key of stale) await this.blobs.delete(key);
    return stale.length;
  }
}
