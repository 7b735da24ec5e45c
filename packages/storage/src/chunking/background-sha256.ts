/**
 * @module A file's sha256 computed on a worker thread while the caller reads and writes the next pieces: a
 * read checks each chunk's BLAKE3 on its own thread and the whole file's sha256 on this one's worker, so
 * reading a file back uses both cores.
 */
import { createHash, type Hash } from "node:crypto";
import { leaseWorker, type PipelineWorker, releaseWorker } from "./_worker-pool.js";

export class BackgroundSha256 {
  private worker: PipelineWorker | undefined;
  /** Pieces that are not shared memory (or a worker that would not start) are hashed here instead. */
  private local: Hash | undefined;

  /**
   * Hashes the next piece. A piece in a SharedArrayBuffer is hashed on the worker and must stay unchanged
   * until the returned promise resolves; any other piece is hashed at once.
   */
  update(piece: Uint8Array): Promise<void> {
    if (!(piece.buffer instanceof SharedArrayBuffer) || this.local) {
      this.inThread().update(piece);
      return Promise.resolve();
    }
    if (!this.worker) {
      this.worker = leaseWorker();
      this.worker.start("sha256", { sha256: true });
    }
    const hashed = this.worker.block(piece).then(() => undefined);
    hashed.catch(() => {}); // a read that stops early never awaits it; digest reports a broken worker
    return hashed;
  }

  /** The hex sha256 of every piece so far; ends the worker's part. */
  async digest(): Promise<string> {
    if (!this.worker) return this.inThread().digest("hex");
    const reply = await this.worker.end();
    if (reply.type !== "end" || reply.sha256 === undefined) {
      throw new Error(`hashing worker: expected a sha256, got ${reply.type}`);
    }
    return reply.sha256;
  }

  /** Gives the worker back (also when the read stopped early). */
  release(): void {
    if (this.worker) releaseWorker(this.worker);
    this.worker = undefined;
  }

  private inThread(): Hash {
    if (this.worker) throw new Error("BackgroundSha256: pieces must all be shared memory, or none");
    this.local ??= createHash("sha256");
    return this.local;
  }
}
