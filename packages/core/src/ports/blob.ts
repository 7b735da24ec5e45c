/**
 * @module Raw object storage (a local folder, S3). Objects are written whole or not at all, and read by range,
 * so the same interface serves whole files and chunk packs.
 */
import type { ByteSource } from "./content.js";

export interface BlobInfo {
  key: string;
  size: number;
}

export interface BlobStore {
  readonly kind: string;
  /** Writes an object atomically and durably: readers see the whole object or none. */
  put(key: string, body: ByteSource | Uint8Array): Promise<void>;
  /** Streams an object, or `length` bytes of it from `offset`. NOT_FOUND when absent. */
  get(key: string, range?: { offset: number; length: number }): ByteSource;
  head(key: string): Promise<BlobInfo | null>;
  list(prefix: string): AsyncIterable<BlobInfo>;
  delete(key: string): Promise<void>;
  /**
   * Renames an object: afterwards `to` holds it whole (replacing any object there) and `from` is gone.
   * NOT_FOUND when `from` is absent. Lets a writer stream to a staging key and name the object only once its
   * hash is known, without buffering it (a folder renames; S3 copies server-side, then deletes).
   */
  move(from: string, to: string): Promise<void>;
}
