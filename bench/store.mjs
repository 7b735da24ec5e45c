#!/usr/bin/env node
/**
 * @module `npm run bench:store`: the chunk store against what a user would otherwise do, every figure a ratio
 * of two things measured in the same run, on the same disk, with the same page-cache state.
 *
 *   1. push of a new file (cold):   `cairn push` into a fresh store  vs  `cp` of the same file (both + `sync`)
 *   2. push of a second version whose bytes differ in 10 regions of 1% each (10% in all), into the store that
 *      holds the first: throughput, and  `restic backup` of the same second version into a repository that
 *      holds the first  vs  that push (both + `sync`; borg the same way, for information)
 *   3. chunk + hash throughput:     cairn's chunker (sync and streamed)  vs  `@huggingface/xetchunk-wasm`
 *      `getChunks`, same buffer, same boundaries and hashes checked (bench/store-chunking.mjs, own process)
 *   4. bytes stored for both versions: cairn, restic, borg (`du -sb` of each store) vs whole-file storage
 *      (2 × the file: what git-lfs, DVC and MLflow keep)
 *   5. pull of the second version:  `cairn pull`  vs  `cp` (both + `sync`)
 *
 * cairn runs as a user runs it: `node packages/cli/bin/cairn.js` in its own process, CAIRN_HOME in the bench's
 * temporary folder. Every cairn, restic and borg command's time ends with `sync`, so nobody is credited for bytes
 * still in the page cache. Before each timed phase the page cache is flushed and, if this process may, dropped.
 * The peers run only if installed (`restic`, `borg` on PATH); nothing is installed. The temporary folder is
 * removed at the end, also on failure or Ctrl-C.
 *
 * Environment: BENCH_SIZE_MB (MiB per file, default 1024), BENCH_CHUNK_MB (MiB for 3., default 256),
 * BENCH_ROUNDS (rounds of 1, 2, 5 and of 3; medians are compared; default 3), BENCH_DIR (parent of the
 * temporary folder, default the OS temp folder: it must be on the disk you mean to measure, and have about
 * 4.5 × BENCH_SIZE_MB free), BENCH_BUILD=0 (skip `npx tsc -b`).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomFillSync, randomInt } from "node:crypto";
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  rmSync,
  statSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { delimiter, join } from "node:path";
import {
  benchFolder,
  CLI,
  dropCaches as dropPageCache,
  MB,
  MiB,
  median,
  positiveInteger,
  REPO,
  round3,
  seconds,
  sha256File,
  table,
  timed,
  timedWithSync,
} from "./_lib.mjs";

const GB = 1e9;
const REGIONS = 10; // changed regions in the second version, each 1% of the file

const GOALS = {
  push_vs_cp: 0.7, // cp time / push time
  push2_gb_s: 1.0, // file size / second push time
  push2_vs_restic: 3.0, // restic second backup time / cairn second push time
  chunk_vs_reference: 3.0, // getChunks time / cairn chunker time
  pull_vs_cp: 0.5, // cp time / pull time
};

const SIZE_MIB = positiveInteger("BENCH_SIZE_MB", 1024);
const CHUNK_MIB = positiveInteger("BENCH_CHUNK_MB", 256);
const ROUNDS = positiveInteger("BENCH_ROUNDS", 3);
const SIZE = SIZE_MIB * MiB;

let coldCache = true;
/** Flushes and, if this process may, empties the page cache; one failure to empty it makes the run warm. */
function dropCaches() {
  if (!dropPageCache()) coldCache = false;
}

/** The absolute path of an executable on PATH, or null. */
function which(name) {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      if (statSync(path).isFile()) return path;
    } catch {}
  }
  return null;
}

/**
 * Writes the first version (random bytes, so neither dedup nor compression can make it smaller) and the second
 * (the same bytes but REGIONS regions of 1% each, at a random place in each tenth of the file, overwritten with
 * new random bytes) in one pass. Returns both sha256s and the regions.
 */
function writeVersions(v1Path, v2Path) {
  const regionLength = Math.floor(SIZE / 100);
  const tenth = Math.floor(SIZE / REGIONS);
  const regions = Array.from({ length: REGIONS }, (_, i) => {
    const slack = tenth - regionLength;
    const start = i * tenth + (slack > 0 ? randomInt(slack + 1) : 0);
    return { start, end: start + regionLength };
  });
  const h1 = createHash("sha256");
  const h2 = createHash("sha256");
  const buffer = Buffer.allocUnsafe(8 * MiB);
  const fd1 = openSync(v1Path, "w");
  const fd2 = openSync(v2Path, "w");
  const writeAll = (fd, bytes) => {
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
  };
  try {
    for (let at = 0; at < SIZE; ) {
      const piece = buffer.subarray(0, Math.min(buffer.length, SIZE - at));
      randomFillSync(piece);
      h1.update(piece);
      writeAll(fd1, piece);
      // The second version: this piece with the parts that fall in a region replaced by fresh random bytes.
      for (const { start, end } of regions) {
        const from = Math.max(start, at) - at;
        const to = Math.min(end, at + piece.length) - at;
        if (from < to) randomFillSync(piece, from, to - from);
      }
      h2.update(piece);
      writeAll(fd2, piece);
      at += piece.length;
    }
    fsyncSync(fd1);
    fsyncSync(fd2);
  } finally {
    closeSync(fd1);
    closeSync(fd2);
  }
  return { sha1: h1.digest("hex"), sha2: h2.digest("hex"), regions, changed: REGIONS * regionLength };
}

/** `du -sb`: apparent bytes of everything under `path`, folders included, as the user would measure it. */
function duBytes(path) {
  return Number(execFileSync("du", ["-sb", path], { encoding: "utf8" }).split(/\s/)[0]);
}

function versionOf(name, path) {
  const result = spawnSync(path, [name === "restic" ? "version" : "--version"], { encoding: "utf8" });
  return (result.stdout || result.stderr || "").split("\n")[0].trim() || name;
}

async function main() {
  let buildWarning = null;
  if (process.env.BENCH_BUILD !== "0") {
    // The storage package (chunker, chunk store) must build: it is what this bench measures. A failure elsewhere
    // (say, a package under construction) leaves the last built CLI in place, and the bench says so.
    console.log("building: npx tsc -b");
    const build = spawnSync("npx", ["tsc", "-b"], { cwd: REPO, encoding: "utf8" });
    if (build.status !== 0) {
      const storage = spawnSync("npx", ["tsc", "-b", "packages/storage"], { cwd: REPO, encoding: "utf8" });
      if (storage.status !== 0) {
        throw new Error(`\`npx tsc -b packages/storage\` failed:\n${storage.stdout}${storage.stderr}`);
      }
      buildWarning =
        "`npx tsc -b` failed outside packages/storage (storage rebuilt; the rest is the last successful build):\n" +
        `${build.stdout}${build.stderr}`
          .trim()
          .split("\n")
          .slice(0, 5)
          .map((l) => `    ${l}`)
          .join("\n");
      console.log(`  warning: ${buildWarning}`);
    }
  }
  if (!existsSync(join(REPO, "packages", "cli", "dist", "main.js"))) {
    throw new Error("the CLI is not built: run `npx tsc -b` first");
  }

  const peers = {};
  const skipped = [];
  for (const name of ["restic", "borg"]) {
    const path = which(name);
    if (path) peers[name] = { path, version: versionOf(name, path) };
    else skipped.push(name);
  }

  // Both versions, one store at a time (~1.1 × for two versions), one copy or pulled file: ~4.2×.
  const { dir, cleanup } = benchFolder("cairn-bench-store-", SIZE_MIB, 4.5);

  try {
    // Only what the bench sets: a store, repository or password in the caller's shell must not be used.
    const baseEnv = { ...process.env, NO_COLOR: "1" };
    for (const key of Object.keys(baseEnv)) {
      if (/^(CAIRN_|RESTIC_|BORG_)/.test(key)) delete baseEnv[key];
    }

    console.log(
      `cairn store bench: ${SIZE_MIB} MiB files in ${dir}, ${ROUNDS} round(s); ` +
        `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? "?"}); node ${process.version}`,
    );
    console.log(
      `  peers: ${
        Object.entries(peers)
          .map(([n, p]) => `${n} (${p.version})`)
          .join(", ") || "none"
      }` + (skipped.length ? `; skipped (not installed): ${skipped.join(", ")}` : ""),
    );

    // 3. Chunk + hash throughput first, before the big files fill the page cache and the disk's write-back.
    console.log(`  chunk + hash throughput on ${CHUNK_MIB} MiB ...`);
    const chunking = JSON.parse(
      timed(process.execPath, [join(REPO, "bench", "store-chunking.mjs")], {
        cwd: REPO,
        env: { ...baseEnv, BENCH_CHUNK_MB: String(CHUNK_MIB), BENCH_ROUNDS: String(ROUNDS) },
      })
        .stdout.trim()
        .split("\n")
        .pop(),
    );

    const v1 = join(dir, "v1.bin");
    const v2 = join(dir, "v2.bin");
    const made = process.hrtime.bigint();
    const data = writeVersions(v1, v2);
    // A different mtime as well as a different inode: no tool's file cache may take v2 for v1.
    utimesSync(v2, new Date(Date.now() + 60_000), new Date(Date.now() + 60_000));
    console.log(
      `  wrote two versions in ${seconds(process.hrtime.bigint() - made).toFixed(1)} s; the second differs in ` +
        `${REGIONS} regions of ${(data.changed / REGIONS / MB).toFixed(1)} MB (${((100 * data.changed) / SIZE).toFixed(1)}%)`,
    );

    // Every tool stores the same path, src/model.bin, first as v1 and then as v2 (hard links: no copy needed),
    // so restic and borg see a new version of a file they already hold, as in real use.
    const src = join(dir, "src");
    mkdirSync(src);
    const model = join(src, "model.bin");
    const point = (target) => {
      rmSync(model, { force: true });
      linkSync(target, model);
    };

    const runs = {
      cp: [],
      push1: [],
      push2: [],
      pull: [],
      restic1: [],
      restic2: [],
      borg1: [],
      borg2: [],
    };
    const sizes = {};
    const resticEnv = { ...baseEnv, RESTIC_PASSWORD: "x" };
    const borgEnv = {
      ...baseEnv,
      BORG_BASE_DIR: join(dir, "borg-home"), // its cache and keys, inside the temporary folder
      BORG_PASSPHRASE: "x",
      BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: "yes",
      BORG_RELOCATED_REPO_ACCESS_IS_OK: "yes",
    };

    const cp = (from) => {
      const copy = join(dir, "copy.bin");
      dropCaches();
      runs.cp.push(timedWithSync("cp", [from, copy]).s);
      if (statSync(copy).size !== SIZE) throw new Error("cp copied the wrong number of bytes");
      rmSync(copy);
    };

    // A virtual disk's speed wanders from one second to the next: each round runs every contender once, and
    // medians are compared.
    for (let round = 0; round < ROUNDS; round++) {
      console.log(
        `  round ${round + 1}/${ROUNDS}: cp, cairn push ×2, cairn pull, ${Object.keys(peers).join(", ") || "no peers"}`,
      );
      cp(v1);

      // 1 + 2. cairn: v1 into a fresh store (created by this very command), then v2 into the same store.
      const home = join(dir, "cairn");
      const env = { ...baseEnv, CAIRN_HOME: home };
      const cairn = (args) => [CLI, ...args];
      point(v1);
      dropCaches();
      const p1 = timedWithSync(process.execPath, cairn(["push", "bench", model, "--json"]), {
        cwd: dir,
        env,
      });
      runs.push1.push(p1.s);
      point(v2);
      dropCaches();
      const p2 = timedWithSync(process.execPath, cairn(["push", "bench", model, "--json"]), {
        cwd: dir,
        env,
      });
      runs.push2.push(p2.s);
      const pushed = [JSON.parse(p1.stdout), JSON.parse(p2.stdout)];
      if (pushed[0].files?.[0]?.sha256 !== data.sha1 || pushed[1].files?.[0]?.sha256 !== data.sha2) {
        throw new Error("cairn recorded a different sha256 than the bench wrote");
      }
      if (round === 0) {
        const stats = JSON.parse(
          timed(process.execPath, cairn(["stats", "--json"]), { cwd: dir, env }).stdout,
        );
        sizes.cairn = {
          du: duBytes(home),
          packs: duBytes(join(home, "blobs")),
          stats_stored: stats.overall.storedBytes,
          stats_packs: stats.overall.packBytes,
        };
      }

      // 5. cairn pull of the second version (its chunks lie in both pushes' packs), and cp next to it.
      cp(v2);
      const pulled = join(dir, "pulled");
      dropCaches();
      const pullArgs = cairn(["pull", `bench@${pushed[1].version}`, "-o", pulled, "--json"]);
      runs.pull.push(timedWithSync(process.execPath, pullArgs, { cwd: dir, env }).s);
      if (round === 0 && (await sha256File(join(pulled, "model.bin"))) !== data.sha2) {
        throw new Error("the pulled file differs from the pushed one");
      }
      rmSync(pulled, { recursive: true });
      rmSync(home, { recursive: true });

      // 2. restic: v1 into a fresh repository, then v2 (the figure), each + sync.
      if (peers.restic) {
        const repo = join(dir, "restic");
        const cache = join(dir, "restic-cache");
        const restic = (args) => [
          peers.restic.path,
          ["-r", repo, "--cache-dir", cache, "--quiet", ...args],
          { cwd: dir, env: resticEnv },
        ];
        timed(...restic(["init"]));
        point(v1);
        dropCaches();
        runs.restic1.push(timedWithSync(...restic(["backup", "--host", "bench", "src"])).s);
        point(v2);
        dropCaches();
        runs.restic2.push(timedWithSync(...restic(["backup", "--host", "bench", "src"])).s);
        if (round === 0) sizes.restic = { du: duBytes(repo) };
        rmSync(repo, { recursive: true });
        rmSync(cache, { recursive: true, force: true });
      }

      // borg: the same, unencrypted and uncompressed (cairn neither encrypts nor compresses).
      if (peers.borg) {
        const repo = join(dir, "borg");
        const borg = (args) => [peers.borg.path, args, { cwd: dir, env: borgEnv }];
        timed(...borg(["init", "--encryption=none", repo]));
        point(v1);
        dropCaches();
        runs.borg1.push(timedWithSync(...borg(["create", "--compression", "none", `${repo}::v1`, "src"])).s);
        point(v2);
        dropCaches();
        runs.borg2.push(timedWithSync(...borg(["create", "--compression", "none", `${repo}::v2`, "src"])).s);
        if (round === 0) sizes.borg = { du: duBytes(repo) };
        rmSync(repo, { recursive: true });
        rmSync(join(dir, "borg-home"), { recursive: true, force: true });
      }
    }

    // ---- figures ----
    const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.length ? median(v) : null]));
    const ratio = (a, b) => (a === null || b === null ? null : a / b);
    const chunkS = chunking.median_s;
    const fig = {
      push_vs_cp: ratio(m.cp, m.push1),
      push2_gb_s: SIZE / GB / m.push2,
      push2_vs_restic: ratio(m.restic2, m.push2),
      push2_vs_borg: ratio(m.borg2, m.push2),
      chunk_sync_vs_reference: chunkS.reference / chunkS.chunkBuffer,
      chunk_stream_vs_reference: chunkS.reference / chunkS.chunkStream,
      chunk_stream_sha256_vs_reference: chunkS.reference / chunkS.chunkStreamSha256,
      pull_vs_cp: ratio(m.cp, m.pull),
    };
    const met = (value, goal) => (value === null ? "skipped" : value >= goal ? "met" : "MISSED");
    const x = (v) => (v === null ? "-" : `${v.toFixed(2)}×`);
    const s = (v) => (v === null ? "-" : `${v.toFixed(2)} s`);
    const rate = (bytes, t) => (t === null ? "-" : `${(bytes / MB / t).toFixed(0)} MB/s`);
    const range = (values) =>
      values.length ? `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)} s` : "-";

    const cache = coldCache
      ? "cold (page cache dropped before each timed command)"
      : "WARM (could not drop the page cache: not root or /proc/sys read-only)";
    console.log();
    console.log(`${SIZE_MIB} MiB per file (${SIZE} bytes; MB = 10^6 bytes, GB = 10^9); page cache ${cache}`);
    console.log(
      `every time is the median of ${ROUNDS} and includes a closing \`sync\`; ratios above 1 favour cairn`,
    );
    console.log();
    console.log(
      table([
        ["command", "median", "rate", "range"],
        ["cp + sync (baseline)", s(m.cp), rate(SIZE, m.cp), range(runs.cp)],
        ["cairn push v1, fresh store", s(m.push1), rate(SIZE, m.push1), range(runs.push1)],
        ["cairn push v2 (10% changed)", s(m.push2), rate(SIZE, m.push2), range(runs.push2)],
        ["cairn pull v2", s(m.pull), rate(SIZE, m.pull), range(runs.pull)],
        ...(peers.restic
          ? [
              ["restic backup v1, fresh repo", s(m.restic1), rate(SIZE, m.restic1), range(runs.restic1)],
              ["restic backup v2", s(m.restic2), rate(SIZE, m.restic2), range(runs.restic2)],
            ]
          : []),
        ...(peers.borg
          ? [
              ["borg create v1, fresh repo", s(m.borg1), rate(SIZE, m.borg1), range(runs.borg1)],
              ["borg create v2", s(m.borg2), rate(SIZE, m.borg2), range(runs.borg2)],
            ]
          : []),
      ]),
    );
    console.log();
    const chunkMB = (t) => `${(chunking.size_bytes / MB / t).toFixed(0)} MB/s`;
    const same = (k) => (chunking.identical[k] ? "identical" : "DIFFERENT");
    console.log(
      table([
        [
          `chunk + hash, ${CHUNK_MIB} MiB, ${chunking.chunks} chunks`,
          "median",
          "rate",
          "vs getChunks",
          "chunks",
        ],
        [
          "@huggingface/xetchunk-wasm getChunks",
          s(chunkS.reference),
          chunkMB(chunkS.reference),
          "1.00×",
          "(reference)",
        ],
        [
          "cairn chunkBuffer (sync)",
          s(chunkS.chunkBuffer),
          chunkMB(chunkS.chunkBuffer),
          x(fig.chunk_sync_vs_reference),
          same("chunkBuffer"),
        ],
        [
          "cairn chunkStream (workers)",
          s(chunkS.chunkStream),
          chunkMB(chunkS.chunkStream),
          x(fig.chunk_stream_vs_reference),
          same("chunkStream"),
        ],
        [
          "  + whole-file sha256 (as push)",
          s(chunkS.chunkStreamSha256),
          chunkMB(chunkS.chunkStreamSha256),
          x(fig.chunk_stream_sha256_vs_reference),
          same("chunkStreamSha256"),
        ],
      ]),
    );
    console.log();
    const whole = 2 * SIZE;
    const stored = (label, bytes) => [
      label,
      `${(bytes / MB).toFixed(1)} MB`,
      `${(bytes / SIZE).toFixed(3)}× file`,
      `${(whole / bytes).toFixed(2)}×`,
    ];
    console.log(
      table([
        ["stored for both versions (du -sb)", "bytes", "vs one file", "saving vs whole-file"],
        stored("whole-file (git-lfs, DVC, MLflow): 2 × file", whole),
        stored("cairn (CAIRN_HOME: packs + SQLite)", sizes.cairn.du),
        stored("  of which packs", sizes.cairn.packs),
        ...(sizes.restic ? [stored("restic repository", sizes.restic.du)] : []),
        ...(sizes.borg ? [stored("borg repository (--compression none)", sizes.borg.du)] : []),
      ]),
    );
    console.log(
      `  (cairn stats: ${(sizes.cairn.stats_stored / MB).toFixed(1)} MB of unique chunks, ` +
        `${(sizes.cairn.stats_packs / MB).toFixed(1)} MB of packs; the second version changed ${(data.changed / MB).toFixed(1)} MB)`,
    );
    console.log();
    const goalRows = [
      ["goal", "measured", "target", ""],
      [
        "push new file: cp time / push time",
        x(fig.push_vs_cp),
        `≥ ${GOALS.push_vs_cp}×`,
        met(fig.push_vs_cp, GOALS.push_vs_cp),
      ],
      [
        "push v2: file size / push time",
        `${fig.push2_gb_s.toFixed(2)} GB/s`,
        `≥ ${GOALS.push2_gb_s} GB/s`,
        met(fig.push2_gb_s, GOALS.push2_gb_s),
      ],
      [
        "push v2: restic v2 backup time / cairn v2 push time",
        x(fig.push2_vs_restic),
        `≥ ${GOALS.push2_vs_restic}×`,
        met(fig.push2_vs_restic, GOALS.push2_vs_restic),
      ],
      [
        "chunk+hash: getChunks time / chunkBuffer time",
        x(fig.chunk_sync_vs_reference),
        `≥ ${GOALS.chunk_vs_reference}×`,
        met(fig.chunk_sync_vs_reference, GOALS.chunk_vs_reference),
      ],
      [
        "chunk+hash: getChunks time / chunkStream time",
        x(fig.chunk_stream_vs_reference),
        `≥ ${GOALS.chunk_vs_reference}×`,
        met(fig.chunk_stream_vs_reference, GOALS.chunk_vs_reference),
      ],
      [
        "pull: cp time / pull time",
        x(fig.pull_vs_cp),
        `≥ ${GOALS.pull_vs_cp}×`,
        met(fig.pull_vs_cp, GOALS.pull_vs_cp),
      ],
    ];
    console.log(table(goalRows));
    if (peers.borg)
      console.log(`  (information: borg v2 create time / cairn v2 push time = ${x(fig.push2_vs_borg)})`);
    if (skipped.length) console.log(`  skipped peers (not installed): ${skipped.join(", ")}`);
    if (buildWarning) console.log(`  warning: ${buildWarning.split("\n")[0]}`);
    const identical = Object.values(chunking.identical).every(Boolean);
    if (!identical) console.log("  ERROR: cairn's chunks differ from the reference");
    console.log();

    const rounded = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round3(v)]));
    console.log(
      JSON.stringify({
        bench: "store",
        size_bytes: SIZE,
        changed_bytes: data.changed,
        rounds: ROUNDS,
        cache: coldCache ? "cold" : "warm",
        median_s: rounded(m),
        runs_s: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.map((t) => round3(t))])),
        figures: rounded(fig),
        goals: GOALS,
        goals_met: {
          push_vs_cp: fig.push_vs_cp >= GOALS.push_vs_cp,
          push2_gb_s: fig.push2_gb_s >= GOALS.push2_gb_s,
          push2_vs_restic: fig.push2_vs_restic === null ? null : fig.push2_vs_restic >= GOALS.push2_vs_restic,
          chunk_sync_vs_reference: fig.chunk_sync_vs_reference >= GOALS.chunk_vs_reference,
          chunk_stream_vs_reference: fig.chunk_stream_vs_reference >= GOALS.chunk_vs_reference,
          pull_vs_cp: fig.pull_vs_cp >= GOALS.pull_vs_cp,
        },
        chunking: {
          size_bytes: chunking.size_bytes,
          chunks: chunking.chunks,
          native_blake3: chunking.native_blake3,
          median_s: rounded(chunkS),
          identical: chunking.identical,
        },
        stored_bytes: {
          whole_file: whole,
          cairn: sizes.cairn.du,
          cairn_packs: sizes.cairn.packs,
          cairn_stats_unique_chunks: sizes.cairn.stats_stored,
          restic: sizes.restic?.du ?? null,
          borg: sizes.borg?.du ?? null,
        },
        peers: Object.fromEntries(Object.entries(peers).map(([n, p]) => [n, p.version])),
        skipped_peers: skipped,
        build_warning: buildWarning,
        node: process.version,
        cores: availableParallelism(),
        platform: `${process.platform}-${process.arch}`,
      }),
    );
    if (!identical) process.exitCode = 1;
  } finally {
    cleanup();
  }
}

main().catch((error) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
