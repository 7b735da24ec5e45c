/**
 * @module Cursor pagination for list routes: `?limit=&cursor=` in, `{items, nextCursor}` out. A cursor is
 * opaque to clients (base64url of the list's kind and the last key served), so its form can change later,
 * and a cursor from one list is refused by another instead of silently skipping items.
 */
import { invalid } from "@cairn/core";

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export function encodeCursor(kind: string, key: string | number): string {
  return Buffer.from(JSON.stringify([kind, key]), "utf8").toString("base64url");
}

/** The key a cursor carries, or INVALID when it was not made by `encodeCursor(kind, …)`. */
export function decodeCursor<K extends "string" | "number">(
  kind: string,
  cursor: string,
  keyType: K,
): K extends "string" ? string : number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || parsed[0] !== kind || typeof parsed[1] !== keyType) {
    throw invalid(`invalid cursor ${JSON.stringify(cursor)}: pass back a nextCursor from this list`);
  }
  return parsed[1] as K extends "string" ? string : number;
}

/**
 * One page of a list already sorted by `keyOf` ascending: the items after the cursor's key. The stores return
 * these lists whole today; paging here keeps the wire format stable when they learn to page themselves.
 */
export function pageAfter<T, K extends string | number>(
  all: readonly T[],
  kind: string,
  keyOf: (item: T) => K,
  limit: number,
  cursor: string | undefined,
  keyType: K extends string ? "string" : "number",
): Page<T> {
  let start = 0;
  if (cursor !== undefined) {
    const after = decodeCursor(kind, cursor, keyType) as K;
    start = all.findIndex((item) => keyOf(item) > after);
    if (start < 0) start = all.length;
  }
  const items = all.slice(start, start + limit);
  const last = items[items.length - 1];
  const more = start + limit < all.length;
  return { items, nextCursor: more && last !== undefined ? encodeCursor(kind, keyOf(last)) : null };
}
