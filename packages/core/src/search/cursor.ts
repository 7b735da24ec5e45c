/**
 * @module The search's paging token: a keyset cursor. It names the last row of a page by its sort values and id,
 * so the next page starts right after that row whatever was inserted meanwhile (an offset would skip or repeat
 * rows when a new one sorts before it). Opaque to callers: base64url of a small JSON object.
 */
import { invalid } from "../errors.js";

/** A sort value as the databases hand it back: a number, a text, or null when the row lacks the sort key. */
export type SortValue = number | string | null;

export interface Cursor {
  /** The order the cursor was made for (see `orderFingerprint`), so one from another order is refused. */
  order: string;
  /** The last row's sort values, one per sort expression. */
  values: SortValue[];
  /** The last row's id: a version's numeric id or a run's id. */
  id: number | string;
}

// JSON has no infinities, and a metric may be one: they travel as {"n": "Infinity"}.
type EncodedValue = number | string | null | { n: "Infinity" | "-Infinity" };

const encodeValue = (value: SortValue): EncodedValue =>
  typeof value === "number" && !Number.isFinite(value) ? { n: value > 0 ? "Infinity" : "-Infinity" } : value;

function decodeValue(value: unknown): SortValue {
  if (value === null || typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "object" && value !== null && "n" in value) {
    if (value.n === "Infinity") return Number.POSITIVE_INFINITY;
    if (value.n === "-Infinity") return Number.NEGATIVE_INFINITY;
  }
  throw new Error("not a sort value");
}

export function encodeCursor(cursor: Cursor): string {
  const json = { o: cursor.order, v: cursor.values.map(encodeValue), i: cursor.id };
  return Buffer.from(JSON.stringify(json)).toString("base64url");
}

/** The cursor `text` holds, if a search with this order made it; INVALID otherwise. */
export function decodeCursor(text: string, order: string, width: number): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    parsed = undefined;
  }
  const { o, v, i } = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Record<
    string,
    unknown
  >;
  if (typeof o === "string" && o !== order) {
    throw invalid("this cursor belongs to a search with another order by", {
      hint: "pass the nextCursor of the previous page, with the same order by",
    });
  }
  try {
    if (o !== order || !Array.isArray(v) || v.length !== width) throw new Error("not a cursor");
    if (!(typeof i === "string" || (typeof i === "number" && Number.isSafeInteger(i)))) {
      throw new Error("not an id");
    }
    return { order, values: v.map(decodeValue), id: i };
  } catch {
    throw invalid("this cursor is not one a search returned", {
      hint: "pass the nextCursor of the previous page",
    });
  }
}
