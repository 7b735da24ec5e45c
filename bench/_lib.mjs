/**
 * @module What the bench scripts share: settings from the environment, timing of commands (each ended with
 * `sync` where disk writes count), the page cache, the random test file, and the printed table.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import {
  closeSync,
  createReadStream,
  fsyncSync,
  mkdtempSync,
  openSync,
  rmSync,
  statfsSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("..", import.meta.url));
export const CLI = join(REPO, "packages", "cli", "bin", "cairn.js");
export const MiB = 1024 * 1024;
export const MB = 1000 * 1000;

/** A whole number ≥ 1 from the environment, or `fallback`; anything else ends the bench with exit 2. */
export function positiveInteger(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`${name} must be a whole number ≥ 1, not ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

export const seconds = (ns) => Number(ns) / 1e9;

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

export const round3 = (v, digits = 3) => (v === null || v === undefined ? null : Number(v.toFixed(digits)));

/**
 * Runs a command to completion: its wall time (`elapsed` in ns, `s` in seconds) and stdout. A failure ends the
 * bench with the command's output.
 */
export function timed(file, args, options = {}) {
  const start = process.hrtime.bigint();
  const result = spawnSync(file, args, { encoding: "utf8", maxBuffer: 64 * MiB, ...options });
  const elapsed = process.hrtime.bigint() - start;
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(
      `${[file, ...args].join(" ")} exited with ${result.status}:\n${result.stdout}${result.stderr}`,
    );
  }
  return { elapsed, s: seconds(elapsed), stdout: result.stdout };
}

/** Wall time of a command followed by `sync`: its bytes are on disk when the clock stops. */
export function timedWithSync(file, args, options) {
  const run = timed(file, args, options);
  const sync = timed("sync", []);
  const elapsed = run.elapsed + sync.elapsed;
  return { elapsed, s: seconds(elapsed), stdout: run.stdout };
}

/**
 * Flushes (untimed, so no phase pays for dirty pages left by another), then empties the page cache so reads
 * come from the disk. Emptying needs root and a writable /proc/sys (not so in most containers): returns false
 * when it could not, and the caller says the run was warm rather than pretending.
 */
export function dropCaches() {
  execFileSync("sync");
  try {
    writeFileSync("/proc/sys/vm/drop_caches", "3");
    return true;
  } catch {
    return false;
  }
}

/**
 * A fresh temporary folder for a bench under BENCH_DIR (default: the OS temp folder), which must have about
 * `factor` × the bench's size free. `cleanup()` removes it; so do Ctrl-C and SIGTERM, after `onInterrupt`
 * (say, stopping a server the bench started).
 */
export function benchFolder(prefix, sizeMiB, factor, onInterrupt = () => {}) {
  const parent = process.env["BENCH_DIR"] || tmpdir();
  const fs = statfsSync(parent);
  const free = fs.bavail * fs.bsize;
  if (free < factor * sizeMiB * MiB) {
    throw new Error(
      `${parent} has ${(free / MiB).toFixed(0)} MiB free; a ${sizeMiB} MiB bench needs about ` +
        `${Math.ceil(factor * sizeMiB)} MiB (set BENCH_DIR or a smaller BENCH_SIZE_MB)`,
    );
  }
  const dir = mkdtempSync(join(parent, prefix));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const onSignal = (signal) => {
    onInterrupt();
    cleanup();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return { dir, cleanup };
}

/** Random bytes, so neither chunk dedup nor compression can make the job smaller; returns the sha256. */
export function writeRandomFile(path, size) {
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(8 * MiB);
  const fd = openSync(path, "w");
  try {
    for (let left = size; left > 0; ) {
      const piece = buffer.subarray(0, Math.min(buffer.length, left));
      randomFillSync(piece);
      hash.update(piece);
      for (let off = 0; off < piece.length; ) off += writeSync(fd, piece, off);
      left -= piece.length;
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

export async function sha256File(path) {
  const hash = createHash("sha256");
  for await (const piece of createReadStream(path, { highWaterMark: 4 * MiB })) hash.update(piece);
  return hash.digest("hex");
}

/** Rows as aligned columns: the first left-aligned, the rest right-aligned. */
export function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? "").length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === 0 ? String(c ?? "").padEnd(widths[i]) : String(c ?? "").padStart(widths[i])))
        .join("   ")
        .trimEnd(),
    )
    .join("\n");
}
