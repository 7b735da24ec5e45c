/**
 * @module A running sha256 over bytes that arrive in pieces of ordinary memory — an upload's body, as a server
 * receives it — computed on a worker thread, with the digest so far available at any point (`mark`).
 *
 * A server receiving a push checks each chunk's BLAKE3 and names each large file by the sha256 of its chunks as
 * they arrive. On its main thread the sha256 was the largest single cost of receiving a GiB (~0.7 s of ~2.8 s
 * of CPU), and that thread was the push's bottleneck. Here the pieces are copied into shared blocks (a copy of
 * bytes still in the cache costs about a tenth of hashing them) and hashed on a worker, in order.
 */
import { createHash, type Hash } from "node:crypto";
import { availableParallelism } from "node:os";
import { copyBytes } from "@cairn/core";
import type { PipelineReply } from "./_pipeline-protocol.js";
import { leaseWorker, type PipelineWorker, releaseWorker } from "./_worker-pool.js";

/**
 * Bytes per block sent to the worker: each message costs a fraction of a millisecond, so blocks are large; a
 * `mark` sends the block filled so far.
 */
const BLOCK_BYTES = 4 * 1024 * 1024;
/** Blocks being hashed at once; a caller past them waits (what `update` returns) until the oldest is done. */
const BLOCKS_IN_FLIGHT = 4;
/**
 * Running hashes on workers at once in this process, about one per core; more would only time-share the cores,
 * each with a thread of its own. The rest hash on the calling thread, as before.
 */
const MAX_ON_WORKERS = availableParallelism();
let onWorkers = 0;

interface Sent {
  block: Uint8Array;
  done: Promise<PipelineReply>;
}

export class RunningSha256 {
  private worker: PipelineWorker | undefined;
  /** Hashing on this thread instead: too many on workers already, or the worker failed to start. */
  private local: Hash | undefined;
  private block: Uint8Array | undefined;
  private filled = 0;
  private readonly spare: Uint8Array[] = [];
  private readonly sent: Sent[] = [];
  /** Replies still awaited (marks, restarts): the worker is given back only once they have come. */
  private readonly awaited = new Set<Promise<unknown>>();
  private released = false;
  /** The worker failed: bytes are no longer sent, and `mark` reports the failure. */
  private failed = false;

  constructor() {
    if (onWorkers < MAX_ON_WORKERS) {
      try {
        this.worker = leaseWorker();
        this.worker.start("sha256", { sha256: true });
        onWorkers++;
      } catch {
        this.worker = undefined;
      }
    }
    if (!this.worker) this.local = createHash("sha256");
  }

  /**
   * Adds bytes; they are copied before this returns, so the caller may reuse them. Returns a promise when the
   * caller should wait before adding more (the worker is behind), else undefined.
   */
  update(bytes: Uint8Array): Promise<void> | undefined {
    if (this.local) {
      this.local.update(bytes);
      return undefined;
    }
    if (this.failed) return undefined;
    let wait: Promise<void> | undefined;
    for (let at = 0; at < bytes.byteLength; ) {
      this.block ??= this.spare.pop() ?? new Uint8Array(new SharedArrayBuffer(BLOCK_BYTES));
      const take = Math.min(bytes.byteLength - at, BLOCK_BYTES - this.filled);
      copyBytes(this.block, this.filled, bytes.subarray(at, at + take));
      this.filled += take;
      at += take;
      if (this.filled === BLOCK_BYTES) wait = this.send();
    }
    return wait;
  }

  /** The sha256 of every byte added so far (since the last `restart`); adding may go on at once. */
  mark(): Promise<string> {
    if (this.local) return Promise.resolve(this.local.copy().digest("hex"));
    void this.send();
    return this.await(this.worker!.mark()).then((reply) => {
      if (reply.type !== "mark") throw new Error(`hashing worker: expected a mark, got ${reply.type}`);
      return reply.sha256;
    });
  }

  /** Begins again from no bytes. */
  restart(): void {
    if (this.local) {
      this.local = createHash("sha256");
      return;
    }
    void this.send();
    this.await(this.worker!.restart()).catch(() => {});
  }

  /** Gives the worker back once the replies awaited have come; nothing may be added after. */
  release(): void {
    if (this.released) return;
    this.released = true;
    const worker = this.worker;
    if (!worker) return;
    onWorkers--;
    void Promise.allSettled([...this.sent.map((s) => s.done), ...this.awaited]).then(() =>
      releaseWorker(worker),
    );
  }

  /**
   * Sends the block filled so far. Returns a promise while more than BLOCKS_IN_FLIGHT are being hashed: it
   * resolves when the oldest is done (never rejects: a failed worker is reported by `mark`).
   */
  private send(): Promise<void> | undefined {
    const block = this.block;
    if (!block || this.filled === 0) return undefined;
    this.block = undefined;
    const bytes = block.subarray(0, this.filled);
    this.filled = 0;
    if (this.failed) return undefined;
    const entry: Sent = { block, done: this.worker!.block(bytes) };
    this.sent.push(entry);
    entry.done.then(
      () => {
        this.sent.splice(this.sent.indexOf(entry), 1);
        this.spare.push(block);
      },
      () => {
        this.failed = true;
      },
    );
    if (this.sent.length <= BLOCKS_IN_FLIGHT) return undefined;
    return this.sent[0]!.done.then(
      () => {},
      () => {},
    );
  }

  private await<T>(reply: Promise<T>): Promise<T> {
    this.awaited.add(reply);
    const settled = () => this.awaited.delete(reply);
    reply.then(settled, settled);
    return reply;
  }
}
