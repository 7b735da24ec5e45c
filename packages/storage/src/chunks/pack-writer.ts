/**
 * @module Writes one pack: chunk bytes stream into the blob store as they come (one PUT, or one multipart upload
 * on S3); `seal` appends the table and waits until the pack is durable. Only then may the index point at it.
 */
import type { BlobStore, ChunkLocation, PackRecord } from "@cairn/core";
import { ByteChannel } from "./byte-channel.js";
import { encodePackTrailer, type PackEntry } from "./pack-format.js";

// Bytes allowed to wait between the chunker and the blob store's writer.
const IN_FLIGHT_BYTES = 16 * 1024 * 1024;

export class PackWriter {
  readonly key: string;
  private readonly channel = new ByteChannel(IN_FLIGHT_BYTES);
  private readonly stored: Promise<void>;
  private readonly entries: PackEntry[] = [];
  private readonly hashes = new Set<string>();
  private bytes = 0;

  constructor(blobs: BlobStore, key: string) {
    this.key = key;
    this.stored = blobs.put(key, this.channel);
    // A failed upload must wake a producer blocked in push(); the error itself surfaces in seal().
    this.stored.catch((error: unknown) => this.channel.fail(error));
  }

  /** Bytes of chunk data so far. */
  get size(): number {
    return this.bytes;
  }

  get chunkCount(): number {
    return this.entries.length;
  }

  has(hash: string): boolean {
    return this.hashes.has(hash);
  }

  async append(hash: string, data: Uint8Array): Promise<void> {
    if (this.hashes.has(hash)) return;
    this.hashes.add(hash);
    this.entries.push({ hash, offset: this.bytes, length: data.byteLength });
    this.bytes += data.byteLength;
    await this.channel.push(data);
  }

  /** Finishes the pack and waits until it is durable; returns what the index should record. */
  async seal(): Promise<{ pack: PackRecord; chunks: ChunkLocation[] }> {
    const trailer = encodePackTrailer(this.entries, this.bytes);
    await this.channel.push(trailer);
    this.channel.close();
    await this.stored;
    return {
      pack: {
        key: this.key,
        size: this.bytes + trailer.byteLength,
        chunkCount: this.entries.length,
        createdAt: new Date().toISOString(),
      },
      chunks: this.entries.map((e) => ({ hash: e.hash, pack: this.key, offset: e.offset, length: e.length })),
    };
  }

  /** Gives up on the pack: the blob store discards the partial object. */
  async abort(reason: unknown): Promise<void> {
    this.channel.fail(reason);
    this.channel.close();
    await this.stored.catch(() => {});
  }
}
