/**
 * @module Answers kept for as long as the store is unchanged. A resolved ref or "the store has no tokens"
 * changes only when something is committed, and the store's change mark (core's optional `changeMark`) moves
 * on every commit, this process's or another's: every request gets a mark read after it arrived, and a
 * different mark forgets everything kept. An answer is kept under the mark read before it was looked up, so
 * it is never older than its mark. A store without a mark (PostgreSQL) is asked every time.
 */
import type { MetadataStore } from "@cairn/core";
import type { FastifyRequest } from "fastify";

declare module "fastify" {
  interface FastifyRequest {
    /** The store's change mark, read once per request ("" until read): reading it is the cost here. */
    storeMark: string;
  }
}

// Bounds the memory a stream of distinct keys can take; forgetting everything at once keeps this trivial.
const MAX_KEPT = 10_000;

interface Waiting {
  resolve(mark: string): void;
  reject(error: unknown): void;
}

/**
 * One read of a store's change mark for every request that asked for one during a turn of the event loop.
 * The read happens once that turn's I/O is handled (setImmediate), so after every one of those requests had
 * arrived: each still sees every commit made before it arrived. With SQLite a read is three system calls,
 * which cost as much as the rest of a cached answer; under load one read now serves dozens of requests.
 */
class MarkReads {
  private waiting: Waiting[] | null = null;

  /** `meta` has a change mark: nothing else asks for one. */
  constructor(private readonly meta: MetadataStore) {}

  next(): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.waiting === null) {
        this.waiting = [];
        setImmediate(() => this.read());
      }
      this.waiting.push({ resolve, reject });
    });
  }

  private read(): void {
    const waiting = this.waiting ?? [];
    // A request asking from here on waits for the next read: this one may have begun before it arrived.
    this.waiting = null;
    let mark: string;
    try {
      mark = this.meta.changeMark!();
    } catch (error) {
      for (const w of waiting) w.reject(error);
      return;
    }
    for (const w of waiting) w.resolve(mark);
  }
}

const markReads = new WeakMap<MetadataStore, MarkReads>();

/** A change mark read after the caller asked (and so after its request arrived), shared with others asking. */
function nextMark(meta: MetadataStore): Promise<string> {
  let reads = markReads.get(meta);
  if (reads === undefined) {
    reads = new MarkReads(meta);
    markReads.set(meta, reads);
  }
  return reads.next();
}

export class KeptWhileUnchanged<T> {
  private mark: string | undefined;
  private readonly kept = new Map<string, T>();

  constructor(private readonly meta: () => MetadataStore) {}

  /**
   * The answer for `key`: kept, or `lookUp()`'s (a lookup that throws is not kept). A request gets its mark
   * once, read after it arrived, so an answer kept under it has seen every commit made before the request.
   */
  async get(request: FastifyRequest, key: string, lookUp: () => Promise<T>): Promise<T> {
    const meta = this.meta();
    if (!meta.changeMark) return lookUp();
    if (request.storeMark === "") request.storeMark = await nextMark(meta);
    const mark = request.storeMark;
    if (mark !== this.mark) {
      this.kept.clear();
      this.mark = mark;
    }
    const kept = this.kept.get(key);
    if (kept !== undefined) return kept;
    const answer = await lookUp();
    // A request that read a newer mark meanwhile has forgotten this mark's answers: do not bring one back.
    if (this.mark === mark) {
      if (this.kept.size >= MAX_KEPT) this.kept.clear();
      this.kept.set(key, answer);
    }
    return answer;
  }
}
