/**
 * @module How `cairn push --url` cuts files: with the chunk store's engine (the gear scan and sha256 on worker
 * threads, the file read straight into reused blocks) instead of the SDK's portable one-thread chunker. Same
 * chunks, about twice the speed. The store's code is loaded when the first file is chunked, so remote commands
 * that push nothing (list, show, alias …) start without it.
 */
import type { ChunkedFile, ChunkFile, ChunkFileHints, NamedChunk } from "@cairn/sdk";

export const storeChunker: ChunkFile = (source, hints = {}) => new StoreChunkedFile(source, hints);

/**
 * Starts loading the store's code and booting its chunking thread now, for a push about to chunk `files`, if
 * one is larger than a block the thread is given (smaller ones are cut on the calling thread): both take
 * ~150 ms, which then pass while the push captures git and opens its upload session, not while the server
 * waits for the first pack.
 */
export function getReadyToChunk(files: readonly { source: string; size: number }[]): void {
  const large = files.find((f) => f.size > 4 * 1024 * 1024);
  if (!large) return;
  import("@cairn/storage").then(
    ({ fileSource, prepareToChunk }) => prepareToChunk(fileSource(large.source)),
    () => {}, // reported when the file is chunked
  );
}

class StoreChunkedFile implements ChunkedFile {
  private inner: ChunkedFile | undefined;

  constructor(
    private readonly source: AsyncIterable<Uint8Array>,
    private readonly hints: ChunkFileHints,
  ) {}

  get size(): number {
    return this.started().size;
  }

  get sha256(): string | undefined {
    return this.hints.sha256 === false ? undefined : this.started().sha256;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<NamedChunk> {
    if (this.inner) throw new Error("storeChunker: a file can be chunked only once");
    const { chunkStream, fileSource } = await import("@cairn/storage");
    const { local, previous, sha256 } = this.hints;
    // Transient: each chunk a view of the block being read, which the push copies before asking for the next.
    this.inner = chunkStream(local ? fileSource(local.path) : this.source, {
      transient: true,
      ...(previous ? { previous } : {}),
      ...(sha256 === false ? { sha256: false } : {}),
    });
    yield* this.inner;
  }

  private started(): ChunkedFile {
    if (!this.inner) throw new Error("storeChunker: size and sha256 are known once every chunk is read");
    return this.inner;
  }
}
