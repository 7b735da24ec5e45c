/**
 * @module The per-caller rate limit: a token bucket per key (a token's name, or the client's address when it
 * has none), held in this process's memory. Each process limits on its own, so N servers behind a load
 * balancer allow up to N times the rate; that is the intended bound (protection from a runaway client, not
 * billing), and it keeps the hot path free of any shared state.
 */
import { CairnError } from "@cairn/core";

export interface RateLimit {
  /** Requests per second, sustained. */
  perSecond: number;
  /** How many may arrive at once after a quiet spell (default: one second's worth). */
  burst?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

// Bounds the memory one process spends on callers; the least recently seen are forgotten first (which only
// refills their bucket early).
const MAX_KEYS = 50_000;

export class RateLimiter {
  readonly perSecond: number;
  readonly burst: number;
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;

  constructor(limit: RateLimit, now: () => number = () => performance.now()) {
    if (!(limit.perSecond > 0) || !Number.isFinite(limit.perSecond)) {
      throw new CairnError(
        "USAGE",
        `a rate limit must be a positive number per second, not ${limit.perSecond}`,
      );
    }
    this.perSecond = limit.perSecond;
    this.burst = Math.max(1, limit.burst ?? limit.perSecond);
    this.now = now;
  }

  /** Takes one request from `key`'s bucket: 0 when allowed, else the seconds until it would be. */
  take(key: string): number {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.burst, at: now };
      if (this.buckets.size >= MAX_KEYS) {
        const oldest = this.buckets.keys().next();
        if (!oldest.done) this.buckets.delete(oldest.value);
      }
    } else {
      // Re-inserted below, so the map's order is least recently seen first.
      this.buckets.delete(key);
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
      bucket.at = now;
    }
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / this.perSecond;
  }
}

const RATE = /^(\d+(?:\.\d+)?)\s*\/\s*(s|sec|second|m|min|minute)$/;

/** Reads `--rate-limit`: `N/s`, `N/min`, or `off`. */
export function parseRateLimit(text: string): RateLimit | false {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === "off" || trimmed === "none") return false;
  const match = RATE.exec(trimmed);
  const count = match ? Number(match[1]) : Number.NaN;
  if (!match || !(count > 0)) {
    throw new CairnError("USAGE", `--rate-limit takes N/s, N/min or off, not ${JSON.stringify(text)}`);
  }
  const perSecond = match[2]!.startsWith("s") ? count : count / 60;
  return { perSecond, burst: Math.max(1, Math.ceil(count)) };
}
