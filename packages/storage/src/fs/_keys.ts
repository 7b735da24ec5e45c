/**
 * @module Blob keys as relative POSIX paths: the one check that keeps every key inside the blob folder (and,
 * for the S3 driver, the same keys under the bucket prefix), and the check of a read's byte range.
 */
import { invalid } from "@cairn/core";

/**
 * Temporary files start with this; no key segment may, so a temp file can never be mistaken for an object
 * (or an object for debris).
 */
export const TEMP_MARK = ".cairn-tmp-";

export const isTempName = (name: string): boolean => name.startsWith(TEMP_MARK);

function checkSegment(segment: string, text: string): void {
  if (segment === "") throw invalid(`invalid blob key ${JSON.stringify(text)}: empty path segment`);
  if (segment === "." || segment === "..") {
    throw invalid(`invalid blob key ${JSON.stringify(text)}: '.' and '..' segments are not allowed`);
  }
  if (isTempName(segment)) {
    throw invalid(`invalid blob key ${JSON.stringify(text)}: names starting ${TEMP_MARK} are reserved`);
  }
}

function checkCharacters(text: string, what: string): void {
  if (typeof text !== "string") throw invalid(`a blob ${what} must be a string`);
  if (text.includes("\\") || text.includes("\0")) {
    throw invalid(`invalid blob ${what} ${JSON.stringify(text)}: backslashes and NUL bytes are not allowed`);
  }
  if (text.startsWith("/") || /^[A-Za-z]:/.test(text)) {
    throw invalid(`invalid blob ${what} ${JSON.stringify(text)}: keys are relative paths`);
  }
}

/** Accepts `a/b/c`; rejects empty keys, absolute paths, `..`, `.`, empty segments and reserved names. */
export function checkKey(key: string): string {
  checkCharacters(key, "key");
  if (key === "") throw invalid("a blob key must not be empty");
  for (const segment of key.split("/")) checkSegment(segment, key);
  return key;
}

/**
 * A list prefix is a key prefix, not necessarily a folder (`files/a` matches `files/ab/…`): every segment but
 * the last must be a valid key segment; the last may be partial or empty.
 */
export function checkPrefix(prefix: string): string {
  checkCharacters(prefix, "prefix");
  const segments = prefix.split("/");
  segments.pop();
  for (const segment of segments) checkSegment(segment, prefix);
  return prefix;
}

/** A read's byte range: whole non-negative numbers (a range past the end is fine: it reads what exists). */
export function checkRange(range: { offset: number; length: number }): void {
  const { offset, length } = range;
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw invalid(`invalid byte range offset=${offset} length=${length}`);
  }
}
