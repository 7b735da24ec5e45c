/**
 * @module Named chunks arriving in ordinary memory, in order — a push's upload body, as a server receives it —
 * each checked against its name (keyed BLAKE3) and all hashed as one run (sha256, with the digest so far at any
 * point), on a worker thread.
 *
 * On a server's main thread these two hashes were the largest costs of receiving a GiB (BLAKE3 ~0.35 s, sha256
 * ~0.7 s, of ~2.8 s of CPU), and that thread was a push's bottleneck. Here the chunks are copied into shared
 * blocks (a copy of bytes still in the cache costs a fraction of hashing them) and checked and hashed on a
 * worker, a block at a time, while the next block fills. A chunk is handed on only once it is checked.
 */
import { createHash, type Hash } from "node:crypto";
import { availableParallelism } from "node:os";
import { copyBytes } from "@cairn/core";
import type { PendingChunk } from "../chunks/chunk-store.js";
import { type ChunkHasher, createChunkHasher } from "./_blake3.js";
import type { PipelineReply } from "./_pipeline-protocol.js";
import { leaseWorker, type PipelineWorker, releaseWorker } from "./_worker-pool.js";

/** Chunks checked, in order, to hand on; `bad` names the chunk that did not match its name, if one did. */
export interface CheckedChunks {
  chunks: PendingChunk[];
  bad: string | undefined;
}

/**
 * Bytes per block sent to the worker: each message costs a fraction of a millisecond, so blocks are large. A
 * chunk never straddles two (the largest is 128 KiB); `take(true)` and `mark` send the block filled so far.
 */
const BLOCK_BYTES = 4 * 1024 * 1024;
/** Blocks sent and not yet checked at once; `take` waits for the oldest past them. */
const BLOCKS_UNCHECKED = 3;
/**
 * Checkers on workers at once in this process, about one per core; more would only time-share the cores, each
 * with a thread of its own. The rest check and hash on the calling thread.
 */
const MAX_ON_WORKERS = availableParallelism();
let onWorkers = 0;

interface Block {
  bytes: Uint8Array;
  filled: number;
  lengths: number[];
  names: string[];
}

interface Sent {
  block: Block;
  done: Promise<PipelineReply>;
  settled: boolean;
}

/** On the calling thread (too many on workers already): checked as they are added, kept as they arrived. */
interface InThread {
  namer: ChunkHasher;
  sha256: Hash;
  checked: PendingChunk[];
  /** The chunk that did not match its name. */
  bad?: string;
}

export class ArrivingChunks {
  private worker: PipelineWorker | undefined;
  private local: InThread | undefined;
  private block: Block | undefined;
  private readonly sent: Sent[] = [];
  /** Blocks whose chunks the last `take` handed out: free again at the next. */
  private handedOut: Uint8Array[] = [];
  private readonly spare: Uint8Array[] = [];
  /** Replies still awaited (marks, restarts): the worker is given back only once they have come. */
  private readonly awaited = new Set<Promise<unknown>>();
  /** A chunk did not match its name: nothing after it is handed on. */
  private refused = false;
  private released = false;

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
    if (!this.worker) this.local = inThread();
  }

  /** Adds the next chunk, its bytes as the parts they arrived in; they are copied before this returns. */
  add(hash: string, parts: readonly Uint8Array[]): void {
    if (this.released) throw new Error("ArrivingChunks: a chunk added after release");
    if (this.refused) return;
    if (this.local) {
      addInThread(this.local, hash, parts);
      return;
    }
    let length = 0;
    for (const part of parts) length += part.byteLength;
    if (length > BLOCK_BYTES) throw new RangeError(`a chunk of ${length} bytes is larger than a block`);
    if (this.block && this.block.filled + length > BLOCK_BYTES) this.send();
    this.block ??= {
      bytes: this.spare.pop() ?? new Uint8Array(new SharedArrayBuffer(BLOCK_BYTES)),
      filled: 0,
      lengths: [],
      names: [],
    };
    const block = this.block;
    // copyBytes: V8 copies into shared memory byte by byte ("relaxed"), at half the speed.
    for (const part of parts) {
      copyBytes(block.bytes, block.filled, part);
      block.filled += part.byteLength;
    }
    block.lengths.push(length);
    block.names.push(hash);
    if (block.filled === BLOCK_BYTES) this.send();
  }

  /**
   * The chunks checked since the last take, in order. Each chunk's bytes stay valid until the next take. Waits
   * while more than a few blocks are still being checked; with `all`, until every chunk added is. After a chunk
   * that does not match its name (`bad`), nothing more is handed on.
   */
  async take(all: boolean): Promise<CheckedChunks> {
    this.spare.push(...this.handedOut);
    this.handedOut = [];
    if (this.local) {
      const checked = this.local.checked;
      this.local.checked = [];
      if (this.refused) return { chunks: [], bad: undefined };
      this.refused = this.local.bad !== undefined;
      return { chunks: checked, bad: this.local.bad };
    }
    if (all) this.send();
    const chunks: PendingChunk[] = [];
    while (!this.refused && this.sent.length > 0) {
      const head = this.sent[0]!;
      if (!all && !head.settled && this.sent.length <= BLOCKS_UNCHECKED) break;
      const reply = await head.done;
      this.sent.shift();
      if (reply.type !== "check") throw new Error(`checking worker: expected a check, got ${reply.type}`);
      const { bytes, lengths, names } = head.block;
      const good = reply.bad < 0 ? lengths.length : reply.bad;
      for (let i = 0, at = 0; i < good; at += lengths[i]!, i++) {
        chunks.push({ hash: names[i]!, data: bytes.subarray(at, at + lengths[i]!) });
      }
      this.handedOut.push(bytes);
      if (reply.bad >= 0) {
        this.refused = true;
        return { chunks, bad: names[reply.bad] };
      }
    }
    return { chunks, bad: undefined };
  }

  /** The sha256 of every chunk added so far (since the last `restart`); adding may go on at once. */
  mark(): Promise<string> {
    if (this.local) return Promise.resolve(this.local.sha256.copy().digest("hex"));
    this.send();
    return this.await(this.worker!.mark()).then((reply) => {
      if (reply.type !== "mark") throw new Error(`checking worker: expected a mark, got ${reply.type}`);
      return reply.sha256;
    });
  }

  /** The sha256 begins again from no bytes. */
  restart(): void {
    if (this.local) {
      this.local.sha256 = createHash("sha256");
      return;
    }
    this.send();
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

  /** Sends the block filled so far to be checked. */
  private send(): void {
    const block = this.block;
    if (!block || block.lengths.length === 0) return;
    this.block = undefined;
    const done = this.worker!.check(block.bytes.subarray(0, block.filled), block.lengths, block.names);
    const sent: Sent = { block, done, settled: false };
    const settled = () => {
      sent.settled = true;
    };
    done.then(settled, settled);
    this.sent.push(sent);
  }

  private await<T>(reply: Promise<T>): Promise<T> {
    this.awaited.add(reply);
    const settled = () => this.awaited.delete(reply);
    reply.then(settled, settled);
    return reply;
  }
}

function inThread(): InThread {
  return { namer: createChunkHasher(), sha256: createHash("sha256"), checked: [] };
}

function addInThread(local: InThread, hash: string, parts: readonly Uint8Array[]): void {
  if (local.bad !== undefined) return;
  for (const part of parts) local.namer.update(part);
  if (local.namer.digest() !== hash) {
    local.bad = hash;
    return;
  }
  for (const part of parts) local.sha256.update(part);
  local.checked.push({ hash, data: parts });
}
