/**
 * @module Writes that bypass the page cache (O_DIRECT), and the page-aligned memory they need.
 *
 * Why: a buffered write copies every byte into the page cache, and on the machines measured here that copy
 * costs anywhere from 0.3 to 3 CPU-seconds per GiB from one run to the next (fresh page-cache pages are
 * sometimes slow to come by in a VM), on the cores that chunking and hashing need. A direct write hands the
 * memory to the disk as it is: 0.1 CPU-seconds per GiB, every run. A pack is written once and read back
 * rarely, so keeping it in the page cache buys little.
 *
 * Direct I/O wants the memory, the file position and the length aligned to the disk's block size. Memory from
 * `pageAlignedPieces` is aligned where the C library maps large allocations on their own pages (glibc: every
 * allocation over 32 MiB, 16 bytes into its first page); a write that the kernel refuses for alignment
 * (EINVAL) — other memory, another C library, a file system without direct I/O — goes through the page cache
 * instead, so alignment only ever decides the speed.
 */
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";

/** Alignment asked of direct writes' memory, position and length: a page, which covers every block size. */
export const DIRECT_ALIGNMENT = 4096;

// Over glibc's largest mmap threshold (32 MiB on 64-bit), so each slab is mapped on pages of its own.
const SLAB_BYTES = 32 * 1024 * 1024 + DIRECT_ALIGNMENT;
// Where glibc puts an mmapped allocation: 16 bytes (its header) into the first page.
const MALLOC_HEADER = 16;

/**
 * Views of `size` bytes carved out of slabs from `newSlab`, each starting on a page boundary where the slab is
 * laid out as glibc does. A slab lives as long as any piece of it: for pools that keep what they allocate. A
 * size that cannot be carved so (not a multiple of DIRECT_ALIGNMENT, or over 32 MiB) gets memory of its own.
 */
function slabPieces<T extends Uint8Array>(size: number, newSlab: (bytes: number) => T): () => T {
  if (size % DIRECT_ALIGNMENT !== 0 || size > SLAB_BYTES - DIRECT_ALIGNMENT) return () => newSlab(size);
  let slab: T | undefined;
  let used = 0;
  return () => {
    if (!slab || used + size > slab.length) {
      slab = newSlab(SLAB_BYTES).subarray(DIRECT_ALIGNMENT - MALLOC_HEADER) as T;
      used = 0;
    }
    const piece = slab.subarray(used, used + size) as T;
    used += size;
    return piece;
  };
}

/** Page-aligned Buffers of `size` bytes, unzeroed, as a SpareBuffers allocator. */
export function pageAlignedPieces(size: number): (size: number) => Buffer {
  const take = slabPieces(size, (bytes) => Buffer.allocUnsafeSlow(bytes));
  return (asked) => {
    if (asked !== size) throw new RangeError(`pageAlignedPieces: made for ${size} bytes, asked ${asked}`);
    return take();
  };
}

/** Page-aligned shared memory (SharedArrayBuffer views, which worker threads read without copies). */
export function pageAlignedSharedPieces(size: number): () => Uint8Array {
  return slabPieces(size, (bytes) => new Uint8Array(new SharedArrayBuffer(bytes)));
}

const errorCode = (error: unknown): string | undefined =>
  error instanceof Error && "code" in error ? String(error.code) : undefined;

/** A file open twice: directly (where the file system allows it) and through the page cache. */
class DirectOrCached {
  /** Bytes read or written so far, front to back. */
  protected position = 0;

  protected constructor(
    private readonly cached: FileHandle,
    private direct: FileHandle | undefined,
  ) {}

  protected static async openBoth(
    path: string,
    cachedFlags: string,
    directFlags: number,
  ): Promise<[FileHandle, FileHandle | undefined]> {
    const cached = await open(path, cachedFlags);
    if (constants.O_DIRECT === undefined) return [cached, undefined];
    const direct = await open(path, directFlags | constants.O_DIRECT).catch(() => undefined);
    return [cached, direct];
  }

  /**
   * Runs one read or write of `length` bytes at `at` on the direct handle when position and length allow it,
   * else on the cached one; returns the bytes it moved. A direct one the kernel refuses for alignment (EINVAL:
   * this memory, or this file system) is run again cached, and no direct one is tried after it.
   */
  protected async move(
    at: number,
    length: number,
    run: (handle: FileHandle) => Promise<number>,
  ): Promise<number> {
    const direct =
      this.direct && at % DIRECT_ALIGNMENT === 0 && length % DIRECT_ALIGNMENT === 0 ? this.direct : undefined;
    if (direct) {
      try {
        return await run(direct);
      } catch (error) {
        if (errorCode(error) !== "EINVAL") throw error;
        await this.closeDirect();
      }
    }
    return run(this.cached);
  }

  /** Makes what was written durable (fsync covers the whole file, whichever handle wrote it). */
  async sync(): Promise<void> {
    await this.cached.sync();
  }

  async close(): Promise<void> {
    await this.closeDirect();
    await this.cached.close();
  }

  private async closeDirect(): Promise<void> {
    const direct = this.direct;
    this.direct = undefined;
    await direct?.close();
  }
}

/**
 * Writes a new file front to back: aligned pieces directly to the disk, the rest (a pack's last piece and its
 * table) through the page cache.
 */
export class FileWriter extends DirectOrCached {
  /** Creates `path` (failing if it exists). */
  static async create(path: string): Promise<FileWriter> {
    const [cached, direct] = await DirectOrCached.openBoth(path, "wx", constants.O_WRONLY);
    return new FileWriter(cached, direct);
  }

  async write(bytes: Uint8Array): Promise<void> {
    for (let done = 0; done < bytes.byteLength; ) {
      const length = bytes.byteLength - done;
      done += await this.move(this.position + done, length, async (handle) => {
        return (await handle.write(bytes, done, length, this.position + done)).bytesWritten;
      });
    }
    this.position += bytes.byteLength;
  }
}

/**
 * Reads a file front to back, directly from the disk into aligned memory where it can, through the page cache
 * otherwise. A cold file is then not copied through the page cache (measured here: 1 GiB read cold through the
 * page cache 1.8 s, directly 0.65 s). A file still in the page cache is read from the disk all the same (and
 * its unwritten pages are written first): chunking it took ~1.05 s for 1 GiB against ~0.95 s cold, as the
 * gear scan and hashing, not the disk, set the pace.
 */
export class FileReader extends DirectOrCached {
  static async open(path: string): Promise<FileReader> {
    const [cached, direct] = await DirectOrCached.openBoth(path, "r", constants.O_RDONLY);
    return new FileReader(cached, direct);
  }

  /**
   * Fills `target` from where the last read asked for stopped; fewer bytes than asked only at the end of the
   * file. Reads may overlap: each takes the next `target.length` bytes when it is called.
   */
  async read(target: Uint8Array): Promise<number> {
    const start = this.position;
    this.position += target.byteLength;
    let filled = 0;
    while (filled < target.byteLength) {
      // The length may run past the end of the file: a direct read then stops there.
      const length = target.byteLength - filled;
      const read = await this.move(start + filled, length, async (handle) => {
        return (await handle.read(target, filled, length, start + filled)).bytesRead;
      });
      if (read === 0) break;
      filled += read;
    }
    return filled;
  }
}
