/**
 * @module Refs parsed once per server: telling an alias from a semver range (`production` vs `^1.2`) runs
 * semver's range parser, which costs more than the lookups that resolve the ref, and a server is asked about
 * the same few refs again and again. Parsing is pure, so a remembered answer is always the right one; what
 * the ref points at is still looked up in the store on every request.
 */
import { parseRef, type Ref } from "@cairn/core";

// Bounds the memory a stream of distinct refs can take; forgetting everything at once keeps this trivial.
const MAX_REMEMBERED = 10_000;
const remembered = new Map<string, Ref>();

/** core's `parseRef`, remembered (a ref that does not parse throws INVALID every time, and is not kept). */
export function parseRefOnce(text: string): Ref {
  let ref = remembered.get(text);
  if (ref === undefined) {
    ref = parseRef(text);
    if (remembered.size >= MAX_REMEMBERED) remembered.clear();
    remembered.set(text, ref);
  }
  return ref;
}
