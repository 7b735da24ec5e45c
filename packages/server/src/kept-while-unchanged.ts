/**
 * @module Answers kept for as long as the store is unchanged. A resolved ref or "the store has no tokens"
 * changes only when something is committed, and the store's change mark (core's optional `changeMark`) moves
 * on every commit, this process's or another's: every request reads the mark, and a different mark forgets
 * everything kept. An answer is kept under the mark read before it was looked up, so it is never older than
 * its mark. A store without a mark (PostgreSQL) is asked every time.
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

export class KeptWhileUnchanged<T> {
  private mark: string | undefined;
  private readonly kept = new Map<string, T>();

  constructor(private readonly meta: () => MetadataStore) {}

  /**
   * The answer for `key`: kept, or `lookUp()`'s (a lookup that throws is not kept). The mark is read once per
   * request, after it arrived, so an answer kept under it has seen every commit made before the request.
   */
  async get(request: FastifyRequest, key: string, lookUp: () => Promise<T>): Promise<T> {
    const meta = this.meta();
    if (!meta.changeMark) return lookUp();
    if (request.storeMark === "") request.storeMark = meta.changeMark();
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
