/**
 * Keeping the chunk store healthy through the `cairn` binary: `verify` names exactly the files that bit rot
 * damaged, `pull` refuses them, `fsck --rebuild-index` rebuilds a lost index from the packs, `stats` shows what
 * deduplication saves, and `gc` reports (or, for real, reclaims) what no version uses.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { rotFile, withDatabase } from "./_bit-rot.js";
import { folderBytes, listTree, removeSandboxes, type Sandbox, sandbox, sha256 } from "./_cli.js";

afterAll(removeSandboxes);

const KiB = 1024;
const MiB = 1024 * KiB;

interface GcJson {
  dryRun: boolean;
  contentsRemoved: number;
  chunksRemoved: number;
  packsRemoved: number;
  packsRewritten: number;
  orphanPacksRemoved: number;
  bytesReclaimed: number;
  packBytesBefore: number;
  packBytesAfter: number;
}

interface StatsRow {
  artifact: string | null;
  versions: number;
  files: number;
  logicalBytes: number;
  storedBytes: number;
  dedupRatio: number | null;
}

interface StatsJson {
  artifacts: StatsRow[];
  overall: (StatsRow & { packBytes: number }) | null;
}

const packsOf = (s: Sandbox) => join(s.home, "blobs", "packs");

/** Pulls REF into a fresh folder and returns each file's sha256 by path (cheaper to compare than MBs of bytes). */
async function pull(s: Sandbox, ref: string, dir: string): Promise<Map<string, string>> {
  await s.ok(["pull", ref, "-o", dir]);
  return new Map(listTree(s.path(dir)).map((p) => [p, sha256(readFileSync(s.path(dir, p)))]));
}

describe("cairn verify and pull after bit rot", () => {
  it("verify names exactly the damaged file, pull of its version is INTEGRITY and leaves nothing, other versions still pull", async () => {
    const s = await sandbox();
    const head = randomBytes(300 * KiB);
    const weights = randomBytes(MiB);
    const weights2 = Buffer.concat([
      weights.subarray(0, 700 * KiB),
      randomBytes(200),
      weights.subarray(700 * KiB),
    ]);
    const other = randomBytes(500 * KiB);
    // head.bin sorts first: a pull of 0.1.0 meets the damage before writing anything.
    s.write("v1/head.bin", head);
    s.write("v1/weights.bin", weights);
    s.write("v2/head.bin", randomBytes(300 * KiB));
    s.write("v2/weights.bin", weights2);
    s.write("o/other.bin", other);
    await s.ok(["push", "clf", "v1"]);
    await s.ok(["push", "clf", "v2"]);
    await s.ok(["push", "tok", "o"]);
    expect((await s.json<{ ok: boolean }>(["verify"])).ok).toBe(true);

    await rotFile(s, sha256(head));

    // The whole store: exit 1, and exactly clf@0.1.0's head.bin is named.
    const verify = await s.run(["verify"]);
    expect(verify.code).toBe(1);
    expect(verify.stdout.trim().split("\n")).toEqual(["DAMAGED: 1 file(s)", "  clf@0.1.0: head.bin"]);
    expect(verify.stderr).toMatch(/^error: 1 damaged file\(s\): clf@0\.1\.0: head\.bin\n/);
    const error = await s.jsonError(["verify"]);
    expect(error).toEqual({ code: "INTEGRITY", message: "1 damaged file(s): clf@0.1.0: head.bin" });
    // One version at a time: only the damaged one fails.
    expect((await s.jsonError(["verify", "clf@0.1.0"])).code).toBe("INTEGRITY");
    expect((await s.json<{ ok: boolean }>(["verify", "clf@0.2.0"])).ok).toBe(true);
    expect((await s.json<{ ok: boolean }>(["verify", "tok@0.1.0"])).ok).toBe(true);

    const failed = await s.run(["pull", "clf@0.1.0", "-o", "out"]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("clf@0.1.0: head.bin");
    const pullError = await s.jsonError(["pull", "clf@0.1.0", "-o", "out"]);
    expect(pullError.code).toBe("INTEGRITY");
    expect(pullError.message).toContain("clf@0.1.0: head.bin");
    // No partial file, no temporary file: nothing at all.
    expect(listTree(s.path("out"))).toEqual([]);

    expect(await pull(s, "clf@0.2.0", "v2-pulled")).toEqual(
      new Map([
        ["head.bin", sha256(readFileSync(s.path("v2/head.bin")))],
        ["weights.bin", sha256(weights2)],
      ]),
    );
    expect(await pull(s, "tok@0.1.0", "o-pulled")).toEqual(new Map([["other.bin", sha256(other)]]));
  });
});

describe("cairn fsck --rebuild-index", () => {
  it("rebuilds a lost chunk index from the packs alone, and every version pulls byte for byte again", async () => {
    const s = await sandbox();
    const base = randomBytes(2 * MiB);
    const files = new Map<string, Buffer>([
      ["clf@0.1.0", base],
      ["clf@0.2.0", Buffer.concat([randomBytes(100), base])],
      ["clf@0.3.0", Buffer.concat([base.subarray(0, MiB), randomBytes(64 * KiB)])],
      ["tok@0.1.0", randomBytes(10 * KiB)],
    ]);
    for (const [ref, bytes] of files) {
      const [name] = ref.split("@");
      s.write(`${ref}/model.bin`, bytes);
      await s.ok(["push", name!, `${ref}/model.bin`]);
    }
    const counts = (db: Database.Database) =>
      db
        .prepare("SELECT (SELECT count(*) FROM packs) AS packs, (SELECT count(*) FROM chunks) AS chunks")
        .get() as {
        packs: number;
        chunks: number;
      };
    const before = withDatabase(s, counts);
    expect(before.packs).toBe(files.size);

    withDatabase(s, (db) => db.exec("DELETE FROM chunks; DELETE FROM packs;"));
    // The index is really gone: the bytes cannot be found.
    expect((await s.jsonError(["pull", "clf@0.1.0", "-o", "lost"])).code).toBe("INTEGRITY");

    const rebuilt = await s.json<{
      ok: boolean;
      rebuilt: { packs: number; chunks: number; skipped: string[] };
    }>(["fsck", "--rebuild-index"]);
    expect(rebuilt).toMatchObject({ ok: true, rebuilt: { ...before, skipped: [] } });
    expect(withDatabase(s, counts)).toEqual(before);
    for (const [ref, bytes] of files) {
      expect(await pull(s, ref, `pulled/${ref}`)).toEqual(new Map([["model.bin", sha256(bytes)]]));
    }
    expect((await s.json<{ ok: boolean }>(["verify"])).ok).toBe(true);
  });
});

describe("cairn stats", () => {
  it("shows logical against stored bytes and the ratio, per artifact and overall", async () => {
    const s = await sandbox();
    const shared = randomBytes(MiB);
    s.write("a.bin", shared);
    s.write("b.bin", randomBytes(512 * KiB));
    s.write("c.bin", randomBytes(256 * KiB));
    await s.ok(["push", "clf", "a.bin"]); // clf@0.1.0: a
    await s.ok(["push", "clf", "a.bin", "b.bin"]); // clf@0.2.0: a again, and b
    await s.ok(["push", "imdb", "a.bin", "c.bin", "--type", "dataset"]); // a once more, and c

    const stats = await s.json<StatsJson>(["stats"]);
    expect(stats.artifacts).toEqual([
      // An artifact counts every chunk its versions use, also those it shares with another artifact.
      {
        artifact: "clf",
        versions: 2,
        files: 3,
        logicalBytes: 2.5 * MiB,
        storedBytes: 1.5 * MiB,
        dedupRatio: 2.5 / 1.5,
      },
      {
        artifact: "imdb",
        versions: 1,
        files: 2,
        logicalBytes: 1.25 * MiB,
        storedBytes: 1.25 * MiB,
        dedupRatio: 1,
      },
    ]);
    expect(stats.overall).toMatchObject({
      artifact: null,
      versions: 3,
      files: 5,
      logicalBytes: 3.75 * MiB,
      storedBytes: 1.75 * MiB,
      dedupRatio: 3.75 / 1.75,
    });
    // The packs hold the stored bytes plus their chunk tables, and nothing else here.
    expect(stats.overall!.packBytes).toBe(folderBytes(packsOf(s)));
    expect(stats.overall!.packBytes - stats.overall!.storedBytes).toBeLessThan(
      0.01 * stats.overall!.storedBytes,
    );

    const one = await s.json<StatsJson>(["stats", "imdb"]);
    expect(one.artifacts).toEqual([stats.artifacts[1]]);
    expect(one.overall).toEqual(stats.overall); // the whole store, also when one artifact is asked for
    expect((await s.jsonError(["stats", "nope"])).code).toBe("NOT_FOUND");

    const text = (await s.ok(["stats"])).trim().split("\n");
    expect(text[0]).toMatch(/^ARTIFACT\s+VERSIONS\s+LOGICAL\s+STORED\s+DEDUP$/);
    expect(text[1]).toMatch(/^clf\s+2\s+2\.62 MB\s+1\.57 MB\s+1\.67x$/);
    expect(text[2]).toMatch(/^imdb\s+1\s+1\.31 MB\s+1\.31 MB\s+1\.00x$/);
    expect(text[3]).toMatch(/^\(all\)\s+3\s+3\.93 MB\s+1\.84 MB\s+2\.14x$/);
  });
});

describe("cairn gc", () => {
  it("--dry-run reports what it would reclaim and deletes nothing; gc then reclaims exactly that", async () => {
    const s = await sandbox();
    const model = randomBytes(MiB);
    s.write("model.bin", model);
    await s.ok(["push", "clf", "model.bin", "--version", "1.0.0"]);
    // A push that loses the race for its version number has stored its file, then fails: garbage.
    s.write("late.bin", randomBytes(2 * MiB));
    expect((await s.jsonError(["push", "clf", "late.bin", "--version", "1.0.0"])).code).toBe("CONFLICT");
    const packs = listTree(packsOf(s));
    expect(packs).toHaveLength(2);
    const onDisk = folderBytes(packsOf(s));

    const dry = await s.json<GcJson>(["gc", "--dry-run"]);
    expect(dry).toMatchObject({ dryRun: true, contentsRemoved: 1, packsRemoved: 1, packBytesBefore: onDisk });
    expect(dry.bytesReclaimed).toBeGreaterThanOrEqual(2 * MiB);
    expect(dry.bytesReclaimed).toBeLessThan(2.1 * MiB);
    expect(dry.packBytesAfter).toBe(onDisk - dry.bytesReclaimed);
    expect(listTree(packsOf(s))).toEqual(packs);
    expect(folderBytes(packsOf(s))).toBe(onDisk);
    expect(await s.json<GcJson>(["gc", "--dry-run"])).toEqual(dry);
    expect(await s.ok(["gc", "--dry-run"])).toMatch(
      /^would reclaim 2\.\d\d MB \(store 3\.\d\d MB → 1\.\d\d MB\)\n/,
    );

    const gc = await s.json<GcJson>(["gc"]);
    expect(gc).toEqual({ ...dry, dryRun: false, liveSessions: 0 });
    expect(folderBytes(packsOf(s))).toBe(onDisk - gc.bytesReclaimed);
    expect(listTree(packsOf(s))).toHaveLength(1);
    expect(await pull(s, "clf@1.0.0", "pulled")).toEqual(new Map([["model.bin", sha256(model)]]));

    // Nothing left to reclaim.
    expect(await s.ok(["gc"])).toMatch(/^reclaimed 0 B \(store 1\.\d\d MB → 1\.\d\d MB\)\n/);
  });
});
