/**
 * @module Progress bars for long transfers: on stderr, and only when stderr is a terminal (never in scripts,
 * pipes or --json output).
 */
import { formatBytes } from "./output.js";

export interface Progress {
  /** Total bytes done so far across all files. */
  update(doneBytes: number): void;
  stop(): void;
}

const SHOW_FROM_BYTES = 32 * 1024 * 1024;

const silent: Progress = { update() {}, stop() {} };

export async function startProgress(label: string, totalBytes: number, json: boolean): Promise<Progress> {
  if (json || process.stderr.isTTY !== true || totalBytes < SHOW_FROM_BYTES) return silent;
  const { SingleBar, Presets } = (await import("cli-progress")).default;
  const bar = new SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {done} / {total} | {speed}`,
      hideCursor: true,
      clearOnComplete: true,
      barCompleteChar: "#",
      barIncompleteChar: "-",
    },
    Presets.legacy,
  );
  const started = Date.now();
  const fields = (done: number) => ({
    done: formatBytes(done),
    total: formatBytes(totalBytes),
    speed: `${formatBytes(done / Math.max((Date.now() - started) / 1000, 0.001))}/s`,
  });
  bar.start(totalBytes, 0, fields(0));
  return {
    update(done) {
      bar.update(done, fields(done));
    },
    stop() {
      bar.stop();
    },
  };
}
