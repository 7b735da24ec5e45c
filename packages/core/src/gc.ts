/**
 * @module Garbage-collection rules, pure: which upload sessions still count as alive, and what to do with each
 * pack once the sweep has dropped what no version and no live session needs.
 */
import type { PackUsage, UploadSession } from "./ports/chunks.js";

/** A session on another host is alive while its heartbeat is younger than this. */
export const SESSION_TIMEOUT_MS = 2 * 60_000;
/** A pack whose live bytes fall below this fraction of its size is rewritten with only its live chunks. */
export const DEFAULT_REWRITE_BELOW = 0.5;

/** The machine a process runs on, as the rules about who owns leftovers see it (GC's sessions, reproduce's folders). */
export interface Machine {
  host: string;
  /** Whether a process of this machine still runs. */
  isProcessAlive(pid: number): boolean;
}

/**
 * Sessions whose claims GC must respect: on this host, those whose process still runs (a kill -9'd push is
 * dead at once); elsewhere, those with a recent heartbeat.
 */
export function liveSessions(sessions: readonly UploadSession[], now: Date, here: Machine): UploadSession[] {
  return sessions.filter((s) =>
    s.host === here.host
      ? here.isProcessAlive(s.pid)
      : now.getTime() - Date.parse(s.heartbeatAt) < SESSION_TIMEOUT_MS,
  );
}

export interface PackPlan {
  /** Packs with nothing live left: delete. */
  remove: PackUsage[];
  /** Packs mostly garbage: copy the live chunks to a new pack, then delete. */
  rewrite: PackUsage[];
  keep: PackUsage[];
  /** Bytes the plan frees once applied. */
  reclaimBytes: number;
}

export function planPacks(packs: readonly PackUsage[], rewriteBelow = DEFAULT_REWRITE_BELOW): PackPlan {
  const plan: PackPlan = { remove: [], rewrite: [], keep: [], reclaimBytes: 0 };
  for (const pack of packs) {
    if (pack.liveChunks === 0) {
      plan.remove.push(pack);
      plan.reclaimBytes += pack.size;
    } else if (pack.liveBytes < pack.size * rewriteBelow) {
      plan.rewrite.push(pack);
      plan.reclaimBytes += pack.size - pack.liveBytes;
    } else {
      plan.keep.push(pack);
    }
  }
  return plan;
}
