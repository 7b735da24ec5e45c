/**
 * @module A file as a chunk stream's source. It is an ordinary async iterable of the file's bytes, but
 * `chunkStream` recognises it and reads the file straight into its blocks (no copy of the file in between, no
 * fresh buffer per read), in large reads: Node's 64 KiB default costs several times the throughput.
 */
import { FileReader } from "../fs/direct-io.js";

// Reads of this size when iterated as plain pieces (the blocks `chunkStream` reads into are larger still).
const PIECE = 1024 * 1024;

export class FileSource implements AsyncIterable<Uint8Array> {
  private handle: Promise<FileReader> | undefined;
  private ended = false;

  constructor(readonly path: string) {}

  /**
   * Fills `target` from where the last read asked for stopped; fewer bytes than asked means the end of the
   * file. Reads may overlap (a chunk stream keeps two under way): each takes the next bytes when called.
   */
  async readInto(target: Uint8Array): Promise<number> {
    if (this.ended) return 0;
    this.handle ??= FileReader.open(this.path);
    const filled = await (await this.handle).read(target);
    // The end: closed by `close` (the file handle waits for reads still under way).
    if (filled < target.length) this.ended = true;
    return filled;
  }

  /** Closes the file; later reads return nothing. */
  async close(): Promise<void> {
    this.ended = true;
    const handle = this.handle;
    this.handle = undefined;
    // A file that failed to open has nothing to close; the read that opened it reported the failure.
    await (await handle?.catch(() => undefined))?.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    try {
      for (;;) {
        // A fresh buffer per piece: a consumer may keep the pieces it is given.
        const piece = Buffer.allocUnsafeSlow(PIECE);
        const filled = await this.readInto(piece);
        if (filled > 0) yield piece.subarray(0, filled);
        if (filled < piece.length) return;
      }
    } finally {
      await this.close();
    }
  }
}

/** The bytes of the file at `path`, read when iterated (by `chunkStream`, straight into its blocks). */
export const fileSource = (path: string): FileSource => new FileSource(path);
