/**
 * @module The chunk index: which chunk lives where, which files are made of which chunks, and which chunks an
 * upload in flight has claimed. The metadata driver implements it in the same database as the versions, so
 * garbage collection and version commits serialise through database transactions, across processes.
 */

/** Where a chunk's bytes are: a byte range of one pack object. */
export interface ChunkLocation {
  hash: string;
  pack: string;
  offset: number;
  length: number;
}

/** One piece of a file: a chunk and its length (the file is the concatenation, in order). */
export interface ChunkRef {
  hash: string;
  length: number;
}

/** Content claimed by an upload session (`ChunkIndex.claimContent`). */
export interface ClaimedContent extends ContentRecord {
  /** Its chunks that are indexed: all of them, unless a pack was lost and the index rebuilt without it. */
  stored: Set<string>;
}

export interface PackRecord {
  /** Blob key of the pack object. */
  key: string;
  size: number;
  chunkCount: number;
  createdAt: string;
}

/** A whole file as stored: its sha256, size and ordered chunks. */
export interface ContentRecord {
  sha256: string;
  size: number;
  chunks: ChunkRef[];
}

/** Who holds claims: one push (process or upload), alive while its heartbeat is fresh. */
export interface UploadSession {
  id: string;
  host: string;
  pid: number;
  startedAt: string;
  heartbeatAt: string;
}

export interface PackUsage {
  key: string;
  size: number;
  liveBytes: number;
  liveChunks: number;
  chunkCount: number;
}

/** Bytes users pushed (logical) against bytes the chunk store keeps for them (stored). */
export interface StorageStats {
  /** null for the whole store. */
  artifact: string | null;
  versions: number;
  files: number;
  logicalBytes: number;
  /** Unique chunk bytes the versions refer to (an artifact sharing chunks with another counts them too). */
  storedBytes: number;
}

export interface ChunkIndex {
  /** Starts (or refreshes the heartbeat of) an upload session. */
  touchSession(session: UploadSession): Promise<void>;
  /**
   * Returns those of `hashes` already stored and claims them for the session, in one transaction: garbage
   * collection will not remove them until the session ends, so a dedup hit is safe against GC. An index may
   * claim more than asked (the SQLite one claims the packs that hold them); chunks the session writes itself
   * are protected by `addPack`.
   */
  claimChunks(sessionId: string, hashes: string[]): Promise<Set<string>>;
  /** Ends a session and drops its claims. */
  endSession(sessionId: string): Promise<void>;
  listSessions(): Promise<UploadSession[]>;
  /** One session, or null if there is none with that id (never started, or ended). */
  getSession(id: string): Promise<UploadSession | null>;

  /**
   * Records a durable pack and the chunks in it, written by upload session `sessionId`, and claims them for
   * that session as `claimChunks` does, so its new chunks need no claim of their own. A chunk already indexed
   * elsewhere keeps its first location, and that location is claimed instead (another push may have put it
   * there meanwhile, and end without a version).
   */
  addPack(pack: PackRecord, chunks: ChunkLocation[], sessionId: string): Promise<void>;
  /** Records a file's chunk list (idempotent for the same sha256) and claims it for the session. */
  putContent(sessionId: string, content: ContentRecord): Promise<void>;
  getContent(sha256: string): Promise<ContentRecord | null>;
  /**
   * The sha256 of recorded content of `size` bytes made of exactly `chunks`, in that order, if there is any:
   * chunks are named by their bytes, so such content is those bytes, and a file given only as its chunks (a
   * client that left the sha256 to the server) is known without reading it back. Null for an empty list.
   */
  findContent(size: number, chunks: readonly ChunkRef[]): Promise<string | null>;
  /**
   * Claims recorded content for the session and returns it, in one transaction (null if it is not recorded):
   * garbage collection keeps the content, and so every chunk of it, until the session ends. A write that
   * builds on an earlier version claims that version's content once instead of looking up its chunks.
   */
  claimContent(sessionId: string, sha256: string): Promise<ClaimedContent | null>;
  /** True when the content is recorded and every chunk of it is indexed. */
  hasContent(sha256: string): Promise<boolean>;
  locateChunks(hashes: string[]): Promise<Map<string, ChunkLocation>>;
  listContents(): AsyncIterable<ContentRecord>;
  listPacks(): Promise<PackRecord[]>;
  /** The indexed chunks of one pack, by offset. */
  packChunks(key: string): Promise<ChunkLocation[]>;

  /**
   * Garbage collection, in one transaction: deletes content records that no version refers to and that no
   * session claims, then chunk rows that no remaining content refers to and no session claims — ignoring (and
   * ending) only the sessions in `deadSessionIds`. Naming the dead rather than the living keeps the claims of a
   * push that started after the caller listed the sessions. Returns the usage of every pack afterwards, so the
   * caller can delete empty packs and rewrite sparse ones.
   */
  sweep(options: { deadSessionIds: string[]; dryRun: boolean }): Promise<{
    contentsRemoved: number;
    chunksRemoved: number;
    bytesRemoved: number;
    packs: PackUsage[];
  }>;
  /**
   * Moves chunks to a new pack (after a rewrite) and forgets the old pack, in one transaction. Claims on the
   * moved chunks hold in their new place.
   */
  replacePack(oldKey: string, pack: PackRecord | null, chunks: ChunkLocation[]): Promise<void>;
  /** Per-artifact statistics (or one artifact's), plus the whole store's as the entry with artifact null. */
  stats(artifact?: string): Promise<StorageStats[]>;
  /** Total bytes of all indexed packs (what the blob store holds, garbage included). */
  packBytes(): Promise<number>;
  /** Which versions' files use any of these chunks: `verify` names exactly the damaged files. */
  filesUsingChunks(hashes: string[]): Promise<Array<{ artifact: string; version: string; path: string }>>;
  /** Forgets every chunk location and pack, then records the given ones (fsck --rebuild-index). */
  rebuildIndex(packs: Array<{ pack: PackRecord; chunks: ChunkLocation[] }>): Promise<void>;
}
