/**
 * @module How `cairn push --url` cuts files: with the chunk store's engine (the gear scan and sha256 on worker
 * threads, the file read straight into reused blocks) instead of the SDK's portable one-thread chunker. Same
 * chunks, about twice the speed. The store's code is loaded when the first file is chunked, so remote commands
 * that push nothing (list, show, alias …) start without it.
 */
import type { ChunkRef } from "@cairn/core";
import type { ChunkedFile, ChunkFile, LocalFile, NamedChunk } from "@cairn/sdk";

export const storeChunker: ChunkFile = (source, local, previous) =>
  new StoreChunkedFile(source, local, previous);

class StoreChunkedFile implements ChunkedFile {
  private inner: ChunkedFile | undefined;

  constructor(
    private readonly source: AsyncIterable<Uint8Array>,
    private readonly local: LocalFile | undefined,
    private readonly previous: readonly ChunkRef[] | undefined,
  ) {}

  get size(): number {
    return this.started().size;
  }

  get sha256(): string {
    return this.started().sha256;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<NamedChunk> {
    if (this.inner) throw new Error("storeChunker: a file can be chunked only once");
    const { chunkStream, fileSource } = await import("@cairn/storage");
    // Transient: each chunk a view of the block being read, which the push copies before asking for the next.
    const source = this.local ? fileSource(this.local.path) : this.source;
    this.inner = chunkStream(source, {
      transient: true,
      ...(this.previous ? { previous: this.previous } : {}),
    });
    yield* this.inner;
  }

  private started(): ChunkedFile {
    if (!this.inner) throw new Error("storeChunker: size and sha256 are known once every chunk is read");
    return this.inner;
  }
}
