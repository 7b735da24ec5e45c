/**
 * @module Where file bytes live. Files are named by their whole-file sha256 (what users and other tools know a
 * file by); the chunk store keeps them as content-defined chunks in packs, behind this interface.
 */

/** A byte stream, in the web-standard shape so core needs no Node types. */
export type ByteSource = AsyncIterable<Uint8Array>;

export interface StoredContent {
  sha256: string;
  size: number;
}

export interface ContentWriteOptions {
  /** Called with the number of bytes consumed so far, for progress bars. */
  onProgress?: (bytes: number) => void;
  /**
   * The sha256 of stored content these bytes are likely a new version of (the same path in the artifact's
   * last version). Only a hint: a store may use it to skip work where the bytes are unchanged; the content
   * stored is the same either way.
   */
  previous?: string;
}

export interface ContentReadOptions {
  onProgress?: (bytes: number) => void;
  /** Names the file in integrity errors ("model@1.2.0: weights.bin"). */
  label?: string;
  /**
   * The consumer is done with each piece when it asks for the next (it writes pieces straight to a file), so
   * a store may hand out views of buffers it reuses instead of fresh memory per piece. Default false.
   */
  transient?: boolean;
}

export interface ContentStore {
  /**
   * Stores a stream and returns its sha256 and size. Storing the same bytes twice stores them once. The
   * content is durable (and `has` true) after the next `flush`: small files share packs, so a push writes
   * all its files, flushes once, then commits the version. Until a version refers to it, it is garbage.
   */
  write(source: ByteSource, options?: ContentWriteOptions): Promise<StoredContent>;
  /** Makes every write so far durable and visible to `has`. */
  flush(): Promise<void>;
  has(sha256: string): Promise<boolean>;
  /**
   * Streams the content back, verifying it; a mismatch (or missing content) throws INTEGRITY naming
   * `options.label`. A store checks as early as it can — the chunk store each chunk before yielding it, the
   * file's sha256 only at the end — so bytes are
   * trusted only once the iteration has ended without error: a consumer writes them to a temporary file and
   * renames it into place only then (as `cairn pull` does), never straight over the destination.
   */
  read(content: StoredContent, options?: ContentReadOptions): ByteSource;
  /** Checks stored content without returning it; throws INTEGRITY on damage. */
  verify(content: StoredContent, options?: ContentReadOptions): Promise<void>;
  /** Every stored content. */
  list(): AsyncIterable<StoredContent>;
  /** Drops unflushed writes and releases what this writer holds (its claims against garbage collection). */
  close(): Promise<void>;
}
