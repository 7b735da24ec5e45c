/**
 * The chunk store on large files, through the `cairn` binary: a new version of a big model stores only what
 * changed, and pushes killed with SIGKILL at random moments leave only whole versions and garbage that `cairn
 * gc` reclaims. Two tests in one file, so they run one after the other and never compete for the disk.
 */
import { createHash, randomFillSync, randomInt } from "node:crypto";
import { existsSync, readdirSync, readFileSync, readlinkSync, statfsSync, statSync } from "node:fs";
import { type FileHandle, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  folderBytes,
  listTree,
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
const LONG = 10 * 60_000;

interface StatsJson {
  overall: { logicalBytes: number; storedBytes: number; packBytes: number };
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

function skipReason(needed: number): string | null {
  if (!existsSync("/proc/self/fdinfo")) return "needs Linux /proc to watch the pushing process";
  const fs = statfsSync(tmpdir());
  const free = fs.bavail * fs.bsize;
  return free < needed ? `needs ${mb(needed)} free in ${tmpdir()}, has ${mb(free)}` : null;
}

/** Writes all of `bytes` at the handle's position. */
async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length; ) at += (await handle.write(bytes, at)).bytesWritten;
}

/** Writes `size` random bytes (nothing to deduplicate) and returns their sha256. */
async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash("sha256");
  const block = Buffer.allocUnsafe(Math.min(size, 64 * MiB));
  const handle = await open(path, "w");
  try {
    for (let left = size; left > 0; left -= block.length) {
      const piece = randomFillSync(block.subarray(0, Math.min(block.length, left)));
      hash.update(piece);
      await writeAll(handle, piece);
    }
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}

// ── safetensors ───────────────────────────────────────────────────────────────────────────────────────────

const COLUMNS = 1024;

interface Tensor {
  name: string;
  rows: number;
  /** Where its bytes come from: a range of an earlier file, or fresh random numbers. */
  from: { path: string; offset: number } | "random";
}

interface Safetensors {
  path: string;
  sha256: string;
  size: number;
  /** Absolute offset of each tensor's bytes in the file. */
  offsets: Map<string, number>;
}

/**
 * Writes a safetensors file: an 8-byte little-endian header length, a JSON header giving each tensor's dtype,
 * shape and data_offsets (relative to the end of the header, padded to 8 bytes), then the tensors' bytes.
 */
async function writeSafetensors(path: string, tensors: Tensor[]): Promise<Safetensors> {
  const entries: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let end = 0;
  for (const t of tensors) {
    const bytes = t.rows * COLUMNS * 4;
    entries[t.name] = { dtype: "F32", shape: [t.rows, COLUMNS], data_offsets: [end, end + bytes] };
    end += bytes;
  }
  let header = JSON.stringify(entries);
  header = header.padEnd(Math.ceil(header.length / 8) * 8, " ");
  const prefix = Buffer.alloc(8 + header.length);
  prefix.writeBigUInt64LE(BigInt(header.length), 0);
  prefix.write(header, 8, "utf8");

  const hash = createHash("sha256").update(prefix);
  const out = await open(path, "w");
  const sources = new Map<string, FileHandle>();
  const offsets = new Map<string, number>();
  const buffer = Buffer.allocUnsafe(Math.max(...tensors.map((t) => t.rows)) * COLUMNS * 4);
  try {
    await writeAll(out, prefix);
    let at = prefix.length;
    for (const t of tensors) {
      const data = buffer.subarray(0, t.rows * COLUMNS * 4);
      if (t.from === "random") {
        randomFillSync(data);
      } else {
        let source = sources.get(t.from.path);
        if (!source) {
          source = await open(t.from.path, "r");
          sources.set(t.from.path, source);
        }
        await source.read(data, 0, data.length, t.from.offset);
      }
      hash.update(data);
      await writeAll(out, data);
      offsets.set(t.name, at);
      at += data.length;
    }
    return { path, sha256: hash.digest("hex"), size: at, offsets };
  } finally {
    await out.close();
    for (const source of sources.values()) await source.close();
  }
}

// ── watching a push ───────────────────────────────────────────────────────────────────────────────────────

/**
 * How far process `pid` has read `path`: the offset of the file descriptor it has open on it (from
 * /proc/PID/fdinfo), or null when it has none open. `fd` remembers the descriptor between calls.
 */
function readOffset(pid: number, path: string, fd: { name?: string }): number | null {
  try {
    if (fd.name === undefined || readlinkSync(`/proc/${pid}/fd/${fd.name}`) !== path) {
      fd.name = readdirSync(`/proc/${pid}/fd`).find((name) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${name}`) === path;
        } catch {
          return false; // closed while we looked
        }
      });
      if (fd.name === undefined) return null;
    }
    const pos = /^pos:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd.name}`, "utf8"));
    return pos ? Number(pos[1]) : null;
  } catch {
    return null; // the process or the descriptor is gone
  }
}

/**
 * Starts `cairn push clf FILE --json` and, unless `killAt` is null, SIGKILLs it once it has read `killAt`
 * bytes of the file (or has finished reading it and closed it), watching /proc every 2 ms.
 */
async function pushKilledAt(s: Sandbox, file: string, killAt: number | null): Promise<RunResult> {
  const run = s.start(["push", "clf", file, "--json"]);
  if (killAt === null) return run.done;
  let exited = false;
  void run.done.then(() => {
    exited = true;
  });
  const fd: { name?: string } = {};
  let reading = false;
  while (!exited) {
    const offset = readOffset(run.pid, file, fd);
    if ((offset !== null && offset >= killAt) || (reading && offset === null)) {
      run.child.kill("SIGKILL");
      break;
    }
    reading ||= offset !== null;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return run.done;
}

const shuffle = <T>(items: T[]): T[] => {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
};

describe("the chunk store on large files", () => {
  const dedupSkip = skipReason(1.5 * GiB);
  it.skipIf(dedupSkip !== null)(
    `a new version of a 256 MB safetensors model that rewrites 10 tensors and inserts one stores at most 12% of it again${dedupSkip ? ` (skipped: ${dedupSkip})` : ""}`,
    async () => {
      const s = await sandbox();
      try {
        // 100 tensors of 1.8–3.4 MB, 256 MB in all.
        const v1Tensors: Tensor[] = Array.from({ length: 100 }, (_, i) => ({
          name: `layers.${String(i).padStart(3, "0")}.weight`,
          rows: 456 + ((i * 53) % 400),
          from: "random",
        }));
        const v1 = await writeSafetensors(join(s.root, "v1.safetensors"), v1Tensors);

        // Version 2: every tenth tensor retrained (10% of the bytes), and a new tensor of 1% near the start,
        // which moves every later tensor's offset and rewrites most of the header.
        const kept = (t: Tensor, i: number): Tensor =>
          i % 10 === 4
            ? { ...t, from: "random" }
            : { ...t, from: { path: v1.path, offset: v1.offsets.get(t.name)! } };
        const v2Tensors = v1Tensors.map(kept);
        v2Tensors.splice(3, 0, { name: "layers.002.adapter.weight", rows: 640, from: "random" });
        const v2 = await writeSafetensors(join(s.root, "v2.safetensors"), v2Tensors);
        const rewritten = v2Tensors
          .filter((t) => t.from === "random")
          .reduce((n, t) => n + t.rows * COLUMNS * 4, 0);

        await s.ok(["push", "llm", v1.path, "--version", "1.0.0"]);
        const before = (await s.json<StatsJson>(["stats"])).overall;
        await s.ok(["push", "llm", v2.path, "--version", "1.1.0"]);
        const after = (await s.json<StatsJson>(["stats"])).overall;

        const added = after.storedBytes - before.storedBytes;
        console.info(
          `dedup: version 2 added ${mb(added)} of stored bytes = ${((100 * added) / v1.size).toFixed(2)}% of ` +
            `the ${mb(v1.size)} file (the changed tensors alone are ${((100 * rewritten) / v1.size).toFixed(2)}%); ` +
            `packs grew ${mb(after.packBytes - before.packBytes)}`,
        );
        expect(before.storedBytes).toBe(v1.size);
        expect(added).toBeGreaterThanOrEqual(rewritten);
        expect(added).toBeLessThanOrEqual(0.12 * v1.size);
        expect(after.packBytes - before.packBytes).toBeLessThanOrEqual(0.12 * v1.size);
        expect(after.logicalBytes).toBe(v1.size + v2.size);

        for (const [version, file] of [
          ["1.0.0", v1],
          ["1.1.0", v2],
        ] as const) {
          await rm(file.path);
          await s.ok(["pull", `llm@${version}`, "-o", version]);
          expect(await sha256File(s.path(version, `${version === "1.0.0" ? "v1" : "v2"}.safetensors`))).toBe(
            file.sha256,
          );
          await rm(s.path(version), { recursive: true });
        }
      } finally {
        await s.cleanup();
      }
    },
    LONG,
  );

  const crashSkip = skipReason(3 * GiB);
  it.skipIf(crashSkip !== null)(
    `kill -9 at random moments during 20 pushes leaves only whole versions, a store that verifies, and orphans gc reclaims${crashSkip ? ` (skipped: ${crashSkip})` : ""}`,
    async () => {
      const s = await sandbox();
      try {
        // Killed while reading the file (at a random point), killed just after reading it (while sealing the
        // last pack, indexing, committing), or left to finish.
        const plan = shuffle([
          ...Array<"read">(11).fill("read"),
          ...Array<"end">(4).fill("end"),
          ...Array<"finish">(5).fill("finish"),
        ]);
        const pushed = new Map<string, number>(); // sha256 → size of every file a push was given
        const acknowledged = new Map<string, string>(); // version → sha256, for pushes that exited 0
        const log: string[] = [];
        let file: { path: string; sha256: string; size: number } | undefined;
        for (const [i, mode] of plan.entries()) {
          if (!file) {
            const size = randomInt(64, 161) * MiB;
            const path = join(s.root, `weights-${i}.bin`);
            file = { path, size, sha256: await writeRandomFile(path, size) };
            pushed.set(file.sha256, size);
          }
          const killAt =
            mode === "finish"
              ? null
              : mode === "end"
                ? file.size
                : Math.floor(file.size * (0.05 + 0.9 * Math.random()));
          const result = await pushKilledAt(s, file.path, killAt);
          log.push(
            `${i}: ${mode} ${mb(file.size)} at ${killAt === null ? "-" : mb(killAt)} → ${result.code ?? result.signal}`,
          );
          if (result.code === 0) {
            const version = JSON.parse(result.stdout) as VersionJson;
            expect(version.files[0]).toMatchObject({ size: file.size, sha256: file.sha256 });
            acknowledged.set(version.version, file.sha256);
          } else {
            expect(result.signal, `${log.join("\n")}\n${result.stderr}`).toBe("SIGKILL");
          }
          // After a kill, half the time the same file is pushed again (reusing what the killed push left).
          if (result.code === 0 || randomInt(2) === 0) {
            await rm(file.path);
            file = undefined;
          }
        }
        if (file) await rm(file.path);
        const why = log.join("\n");

        // Every acknowledged version is there; anything else listed is a whole version of a pushed file (a
        // push killed after its commit, before it could say so).
        const listed = await s.json<VersionRow[]>(["list", "clf"]);
        expect(listed.map((v) => v.version).sort(), why).toEqual(
          expect.arrayContaining([...acknowledged.keys()].sort()),
        );
        const live = new Map<string, number>(); // sha256 → size of the files the listed versions hold
        for (const { version } of listed) {
          const shown = await s.json<VersionJson>(["show", `clf@${version}`]);
          expect(shown.files, why).toHaveLength(1);
          const [stored] = shown.files;
          expect(pushed.get(stored!.sha256), why).toBe(stored!.size);
          if (acknowledged.has(version)) expect(stored!.sha256).toBe(acknowledged.get(version));
          live.set(stored!.sha256, stored!.size);
          await s.ok(["pull", `clf@${version}`, "-o", "pulled"]);
          expect(await sha256File(s.path("pulled", stored!.path)), why).toBe(stored!.sha256);
          await rm(s.path("pulled"), { recursive: true });
        }
        expect((await s.json<{ ok: boolean }>(["verify"])).ok, why).toBe(true);

        // gc reclaims the orphans: the packs of killed pushes and their half-written temporary files. Every
        // byte that leaves the disk is accounted for, and afterwards the packs hold what the versions use, plus
        // the packs' own tables.
        const packs = join(s.home, "blobs", "packs");
        const debris = listTree(packs)
          .filter((p) => !p.endsWith(".pack"))
          .reduce((n, p) => n + statSync(join(packs, p)).size, 0);
        const beforeGc = folderBytes(packs);
        const gc = await s.json<{ bytesReclaimed: number; packBytesBefore: number; packBytesAfter: number }>([
          "gc",
        ]);
        expect(gc.packBytesAfter).toBe(gc.packBytesBefore - gc.bytesReclaimed);
        expect(beforeGc - folderBytes(packs), why).toBe(gc.bytesReclaimed + debris);
        expect(
          listTree(packs).filter((p) => !p.endsWith(".pack")),
          why,
        ).toEqual([]);
        const { storedBytes } = (await s.json<StatsJson>(["stats"])).overall;
        // Random files share no chunks: the versions need exactly their distinct files' bytes.
        expect(storedBytes).toBe([...live.values()].reduce((n, size) => n + size, 0));
        const onDisk = folderBytes(packs);
        console.info(
          `crash: ${plan.length} pushes, ${acknowledged.size} acknowledged, ${listed.length} listed; gc reclaimed ` +
            `${mb(gc.bytesReclaimed)} of packs and ${mb(debris)} of temporary files; packs ${mb(onDisk)} for ` +
            `${mb(storedBytes)} stored`,
        );
        expect(onDisk, why).toBe(gc.packBytesAfter);
        expect(onDisk, why).toBeGreaterThanOrEqual(storedBytes);
        // A pack's table costs 44 bytes per chunk of ~64 KiB: well under 0.1%.
        expect(onDisk, why).toBeLessThan(storedBytes * 1.001 + 64 * 1024);
        expect((await s.json<{ ok: boolean }>(["verify"])).ok, why).toBe(true);
      } finally {
        await s.cleanup();
      }
    },
    LONG,
  );
});
