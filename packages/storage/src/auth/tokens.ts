/**
 * @module How an API token's secret is made and kept: 32 random bytes behind the `cairn_` prefix, stored only
 * as the hex sha256 of the whole token. The server hashes what a request bears with the same function, so a
 * token is found through one index lookup and the database never holds anything a request could replay.
 */
import { createHash, randomBytes } from "node:crypto";
import { TOKEN_PREFIX } from "@cairn/core";

// 256 bits: far beyond guessing, so the hash needs no salt and no slow key-stretching.
const SECRET_BYTES = 32;

/** The stored form of a token: hex sha256 of its text. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A fresh token and its stored form. Show the token once; keep only the hash. */
export function mintToken(): { token: string; secretHash: string } {
  const token = `${TOKEN_PREFIX}${randomBytes(SECRET_BYTES).toString("base64url")}`;
  return { token, secretHash: hashToken(token) };
}
