/**
 * A remote push holds a bounded amount of memory however large the file (issue 3's bound, < 300 MB, for the
 * embedded path; the same here for `cairn push --url`): a 1 GiB file pushed through the SDK with the chunk
 * store's chunker, in its own process, whose peak resident memory (VmHWM) is read when it is done.
 */
import { spawn } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import { existsSync, statfsSync } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildApp, type CairnApp } from "@cairn/server";
import { type EmbeddedStore, openEmbeddedStore } from "@cairn/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const MiB = 1024 * 1024;
const SIZE = 1024 * MiB;
const RSS_LIMIT = 300 * 1000 * 1000;
const REPO = fileURLToPath(new URL("../../..", import.meta.url));

// What `cairn push --url` does, in a process of its own; it prints the version's file and its own VmHWM.
const PUSHER = `
import { readFileSync } from "node:fs";
import { CairnClient } from "@cairn/sdk";
import { chunkStream, fileSource } from "@cairn/storage";
const [url, file] = process.argv.slice(1);
const chunker = (source, { local } = {}) => chunkStream(local ? fileSource(local.path) : source, { transient: true });
const client = new CairnClient({ url, chunker });
const pushed = await client.push({ name: "big", files: [{ path: "big.bin", source: file }] });
const peakKb = Number(/^VmHWM:\\s+(\\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"))[1]);
console.log(JSON.stringify({ file: pushed.version.files[0], sentBytes: pushed.sentBytes, peak: peakKb * 1024 }));
`;

function skipReason(): string | null {
  if (!existsSync("/proc/self/status")) return "needs Linux /proc for the peak resident memory";
  const fs = statfsSync(tmpdir());
  const free = fs.bavail * fs.bsize;
  // The file and the store's copy of it.
  if (free < 2.5 * SIZE) return `needs ${((2.5 * SIZE) / 1e6).toFixed(0)} MB free in ${tmpdir()}`;
  return null;
}

/** `size` random bytes (no dedup can shrink the job) written to `path`; returns their sha256. */
async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash("sha256");
  const block = Buffer.allocUnsafe(16 * MiB);
  const handle = await open(path, "w");
  try {
    for (let left = size; left > 0; left -= block.length) {
      randomFillSync(block);
      hash.update(block);
      await handle.write(block);
    }
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (piece) => {
      stdout += String(piece);
    });
    child.stderr.on("data", (piece) => {
      stderr += String(piece);
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const skip = skipReason();

describe.skipIf(skip !== null)(`a remote push's memory${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let dir: string;
  let store: EmbeddedStore;
  let app: CairnApp;
  let url: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "cairn-sdk-memory-"));
    store = await openEmbeddedStore(join(dir, "served"));
    app = buildApp({ store });
    url = await app.listen({ host: "127.0.0.1", port: 0 });
  });

  afterAll(async () => {
    await app?.close();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("stays under 300 MB while pushing a 1 GiB file over HTTP", async () => {
    const file = join(dir, "big.bin");
    const sha256 = await writeRandomFile(file, SIZE);
    const pushed = await run(["--input-type=module", "-e", PUSHER, url, file]);
    expect(pushed.stderr).toBe("");
    expect(pushed.code).toBe(0);
    const answer = JSON.parse(pushed.stdout) as { file: unknown; sentBytes: number; peak: number };
    expect(answer.file).toMatchObject({ path: "big.bin", size: SIZE, sha256 });
    expect(answer.sentBytes).toBeGreaterThanOrEqual(SIZE);
    console.log(`1 GiB pushed over HTTP: peak RSS ${(answer.peak / 1e6).toFixed(0)} MB`);
    expect(answer.peak).toBeLessThan(RSS_LIMIT);
  }, 300_000);
});
