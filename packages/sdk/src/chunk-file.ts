/**
 * @module How a push cuts a file into chunks: core's Chunker (the Xet chunking every cairn party shares, with
 * the portable BLAKE3) and the whole-file sha256, in one pass over the bytes on this thread. A host with a
 * faster chunker — the CLI has the chunk store's native, worker-threaded one — passes it as `chunker`.
 */
import { createHash } from "node:crypto";
import { Chunker, type ChunkRef } from "@cairn/core";

/** A chunk with its name and bytes. */
export interface NamedChunk {
  hash: string;
  data: Uint8Array;
}

/**
 * A file being chunked: iterate it once for its chunks in order; `size` and `sha256` are known after. `sha256`
 * is undefined when the chunker was told it is not needed (`ChunkFileHints.sha256`) and skipped it.
 */
export interface ChunkedFile extends AsyncIterable<NamedChunk> {
  readonly size: number;
  readonly sha256: string | undefined;
}

/** Where a push's bytes come from when they are a local file. */
export interface LocalFile {
  path: string;
}

/** What a chunker is told about a file besides its bytes; each only help, which a chunker may ignore. */
export interface ChunkFileHints {
  /**
   * The local file the bytes are, when they are one: a chunker that reads files itself may read it instead of
   * the source (the chunk store's `chunkStream(fileSource(local.path))` reads it straight into reused blocks,
   * no fresh memory per read).
   */
  local?: LocalFile;
  /**
   * The chunk list of an earlier version of the file, when the server has one: a chunker may cut along it
   * (core's `ChunkerOptions.previous`: the same chunks, less work where the bytes are unchanged).
   */
  previous?: readonly ChunkRef[];
  /** false when the push does not need the file's sha256 (the server names the file): it may be skipped. */
  sha256?: boolean;
}

/**
 * Cuts a byte stream into named chunks. The source's pieces must not be reused once handed over (a file read
 * stream's are not): chunks may be views of them. @cairn/storage's `chunkStream` is one. A chunk's `data` need
 * only stay valid until the next chunk is asked for: a push copies what it keeps.
 */
export type ChunkFile = (source: AsyncIterable<Uint8Array>, hints?: ChunkFileHints) => ChunkedFile;

/** The SDK's own chunker: pure TypeScript, no native code, no worker threads. */
export const chunkFile: ChunkFile = (source, hints = {}) =>
  new PortableChunkedFile(source, hints.previous, hints.sha256 ?? true);

class PortableChunkedFile implements ChunkedFile {
  private bytes = 0;
  private digest: string | undefined;
  private iterated = false;
  private done = false;

  constructor(
    private readonly source: AsyncIterable<Uint8Array>,
    private readonly previous: readonly ChunkRef[] | undefined,
    private readonly wantSha256: boolean,
  ) {}

  get size(): number {
    return this.bytes;
  }

  get sha256(): string | undefined {
    if (this.digest === undefined && (this.wantSha256 || !this.done))
      throw new Error("chunkFile: the sha256 is known once every chunk is read");
    return this.digest;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<NamedChunk> {
    if (this.iterated) throw new Error("chunkFile: a file can be chunked only once");
    this.iterated = true;
    const chunker = new Chunker(this.previous ? { previous: this.previous } : {});
    const sha256 = this.wantSha256 ? createHash("sha256") : undefined;
    const held = new PieceQueue();
    for await (const piece of this.source) {
      if (piece.byteLength === 0) continue;
      sha256?.update(piece);
      this.bytes += piece.byteLength;
      held.push(piece);
      for (const chunk of chunker.push(piece)) yield { hash: chunk.hash, data: held.take(chunk.length) };
    }
    for (const chunk of chunker.finish()) yield { hash: chunk.hash, data: held.take(chunk.length) };
    this.digest = sha256?.digest("hex");
    this.done = true;
  }
}

/** The bytes read but not yet handed out as chunks; a chunk within one piece is a view, not a copy. */
class PieceQueue {
  private readonly pieces: Uint8Array[] = [];
  private offset = 0;

  push(piece: Uint8Array): void {
    this.pieces.push(piece);
  }

  take(length: number): Uint8Array {
    const first = this.pieces[0]!;
    if (first.byteLength - this.offset >= length) {
      const view = first.subarray(this.offset, this.offset + length);
      this.advance(length);
      return view;
    }
    const out = new Uint8Array(length);
    for (let at = 0; at < length; ) {
      const piece = this.pieces[0]!;
      const take = Math.min(piece.byteLength - this.offset, length - at);
      out.set(piece.subarray(this.offset, this.offset + take), at);
      at += take;
      this.advance(take);
    }
    return out;
  }

  private advance(bytes: number): void {
    this.offset += bytes;
    if (this.offset === this.pieces[0]!.byteLength) {
      this.pieces.shift();
      this.offset = 0;
    }
  }
}
