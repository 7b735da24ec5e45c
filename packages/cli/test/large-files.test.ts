/**
 * Multi-GB pushes and pulls: crash safety under kill -9, byte-identical round trips, and bounded memory. Kept
 * to two tests in one file, so they run one after the other and never compete with each other for the disk.
 */
import { createHash, randomFillSync } from "node:crypto";
import { existsSync, readFileSync, statfsSync } from "node:fs";
import { open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  folderBytes,
  type RunningCli,
  type RunResult,
  removeSandboxes,
  type Sandbox,
  sandbox,
  sha256File,
  type VersionJson,
  type VersionRow,
} from "./_cli.js";

afterAll(removeSandboxes);

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const BIG = 4 * GiB;
const CRASH_SIZE = 1 * GiB;
const RSS_LIMIT = 300 * 1000 * 1000;
const LONG = 20 * 60_000;

/**
 * Writes `size` random bytes (so chunk dedup cannot shrink the job) and returns their sha256. Random 64 MiB
 * blocks are cheap to make (~5 GB/s); the disk is the limit.
 */
async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash("sha256");
  const block = Buffer.allocUnsafe(64 * MiB);
  const handle = await open(path, "w");
  try {
    for (let left = size; left > 0; ) {
      const piece = block.subarray(0, Math.min(block.length, left));
      randomFillSync(piece);
      hash.update(piece);
      for (let at = 0; at < piece.length; ) at += (await handle.write(piece, at)).bytesWritten;
      left -= piece.length;
    }
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}

function freeBytes(dir: string): number {
  const fs = statfsSync(dir);
  return fs.bavail * fs.bsize;
}

/**
 * Runs a command and samples its peak resident memory (VmHWM, a high-water mark kept by the kernel) every
 * 50 ms while it runs. This is measurement, not synchronisation: the result is awaited through the process.
 */
async function withPeakRss(run: RunningCli): Promise<{ result: RunResult; peak: number; samples: number }> {
  let peakKb = 0;
  let samples = 0;
  const sample = () => {
    try {
      const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${run.pid}/status`, "utf8"));
      if (match) {
        peakKb = Math.max(peakKb, Number(match[1]));
        samples++;
      }
    } catch {
      // Exited between two samples: the last sample holds the peak up to then.
    }
  };
  sample();
  const timer = setInterval(sample, 50);
  try {
    const result = await run.done;
    return { result, peak: peakKb * 1024, samples };
  } finally {
    clearInterval(timer);
  }
}

/** Resolves once `reached()` holds, polling every 20 ms; rejects if the process ends first. */
async function whileRunning(run: RunningCli, reached: () => boolean, what: string): Promise<void> {
  let ended = false;
  void run.done.then(() => {
    ended = true;
  });
  for (;;) {
    if (reached()) return;
    if (ended) throw new Error(`the process ended before ${what}:\n${(await run.done).stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

function skipReason(needed: number): string | null {
  if (!existsSync("/proc/self/status")) return "needs Linux /proc to watch the child process";
  const free = freeBytes(tmpdir());
  if (free < needed) return `needs ${mb(needed)} free in ${tmpdir()}, has ${mb(free)}`;
  return null;
}

describe("large files", () => {
  const crashSkip = skipReason(3 * CRASH_SIZE + GiB);
  it.skipIf(crashSkip !== null)(
    `a kill -9 in the middle of a push leaves no partial version, and the next push works${crashSkip ? ` (skipped: ${crashSkip})` : ""}`,
    async () => {
      const s: Sandbox = await sandbox();
      try {
        s.write("model.bin", "small weights");
        await s.ok(["push", "clf", "model.bin"]);
        const before = await s.json<VersionRow[]>(["list", "clf"]);

        const big = join(s.root, "big.bin");
        const sha = await writeRandomFile(big, CRASH_SIZE);
        const blobs = join(s.home, "blobs");
        const stored = folderBytes(blobs);
        const push = s.start(["push", "clf", big, "--json"]);
        // Mid-write: a quarter of the file is in the blob folder (some packs sealed and indexed, one open).
        await whileRunning(push, () => folderBytes(blobs) - stored >= CRASH_SIZE / 4, "it stored a quarter");
        push.child.kill("SIGKILL");
        expect((await push.done).signal).toBe("SIGKILL");

        // Only whole versions are visible.
        expect(await s.json<VersionRow[]>(["list", "clf"])).toEqual(before);
        expect((await s.jsonError(["show", "clf@0.2.0"])).code).toBe("NOT_FOUND");
        expect((await s.jsonError(["show", "clf#2"])).code).toBe("NOT_FOUND");
        expect((await s.json<Array<{ versionCount: number }>>(["list"]))[0]?.versionCount).toBe(1);

        // The next push of the same file works (reusing what the killed push left is fine), and reads back whole.
        const again = await s.json<VersionJson>(["push", "clf", big]);
        expect(again).toMatchObject({ version: "0.2.0", seq: 2 });
        expect(again.files).toEqual([
          expect.objectContaining({ path: "big.bin", size: CRASH_SIZE, sha256: sha }),
        ]);
        await rm(big);
        await s.ok(["pull", "clf@0.2.0", "-o", "pulled"]);
        expect(await sha256File(s.path("pulled", "big.bin"))).toBe(sha);
        expect((await s.json<{ ok: boolean }>(["verify"])).ok).toBe(true);
      } finally {
        await s.cleanup();
      }
    },
    LONG,
  );

  // The source is deleted once pushed: at most two copies are on disk at a time.
  const bigSkip = skipReason(2 * BIG + GiB);
  it.skipIf(bigSkip !== null)(
    `a 4 GB file pushes and pulls byte-identical in under 300 MB of memory${bigSkip ? ` (skipped: ${bigSkip})` : ""}`,
    async () => {
      const s: Sandbox = await sandbox();
      try {
        const big = join(s.root, "weights.bin");
        const sha = await writeRandomFile(big, BIG);

        const push = await withPeakRss(s.start(["push", "huge", big, "--json"]));
        expect(push.result.code, push.result.stderr).toBe(0);
        const version = JSON.parse(push.result.stdout) as VersionJson;
        expect(version.files).toEqual([
          expect.objectContaining({ path: "weights.bin", size: BIG, sha256: sha }),
        ]);
        await rm(big);

        const pull = await withPeakRss(s.start(["pull", "huge@0.1.0", "-o", "pulled", "--json"]));
        expect(pull.result.code, pull.result.stderr).toBe(0);
        expect(await sha256File(s.path("pulled", "weights.bin"))).toBe(sha);

        console.info(
          `4 GB: peak RSS push ${mb(push.peak)} (${push.samples} samples), pull ${mb(pull.peak)} (${pull.samples} samples)`,
        );
        expect(push.samples).toBeGreaterThan(1);
        expect(pull.samples).toBeGreaterThan(1);
        expect(push.peak).toBeLessThan(RSS_LIMIT);
        expect(pull.peak).toBeLessThan(RSS_LIMIT);
      } finally {
        await s.cleanup();
      }
    },
    LONG,
  );
});
