import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { NewVersion } from "@cairn/core";
import { openSqliteMetadataStore } from "@cairn/storage";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { whileBusy } from "../dist/sqlite/_open.js";
import { runMetadataContract, sha } from "./contract/metadata-contract.js";
import { startNode } from "./helpers/processes.js";

const WRITER = fileURLToPath(new URL("./fixtures/sqlite-writer.mjs", import.meta.url));

let contractDir: string | undefined;
runMetadataContract(
  "sqlite",
  async () => {
    contractDir = await mkdtemp(join(tmpdir(), "cairn-sqlite-"));
    return openSqliteMetadataStore(join(contractDir, "cairn.db"));
  },
  async () => {
    if (contractDir) await rm(contractDir, { recursive: true, force: true });
  },
);

const version = (v: string, extra: Partial<NewVersion> = {}): NewVersion => ({
  artifact: "resnet",
  type: "model",
  version: v,
  createdAt: new Date().toISOString(),
  createdBy: "ada",
  files: [{ path: "model.bin", size: 1, mode: 0o644, sha256: sha(1) }],
  params: {},
  metrics: {},
  tags: {},
  notes: "",
  data: [],
  code: null,
  environment: null,
  run: null,
  aliases: [],
  ...extra,
});
const audit = {
  at: "2025-01-01T00:00:00.000Z",
  actor: "ada",
  action: "x",
  artifact: null,
  target: "x",
  before: null,
  after: null,
};

describe("SQLite metadata store", () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "cairn-sqlite-"));
    path = join(dir, "cairn.db");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const appliedMigrations = () => {
    const db = new Database(path, { readonly: true });
    try {
      return (
        db.prepare("SELECT version FROM schema_migrations ORDER BY version").all() as { version: number }[]
      ).map((r) => r.version);
    } finally {
      db.close();
    }
  };

  it("applies each migration once, and reopening keeps the data and applies nothing again", async () => {
    const first = await openSqliteMetadataStore(path);
    await first.createVersion(version("1.0.0"), audit, () => audit);
    await first.close();
    const applied = appliedMigrations();
    expect(applied.length).toBeGreaterThan(0);
    expect(applied).toEqual(applied.map((_, i) => i + 1));

    const again = await openSqliteMetadataStore(path);
    expect((await again.getVersion("resnet", "1.0.0"))?.seq).toBe(1);
    await again.close();
    expect(appliedMigrations()).toEqual(applied);
  });

  it("puts the database in WAL mode, so readers never wait for a writer", async () => {
    await (await openSqliteMetadataStore(path)).close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
  });

  it("refuses a database written by a newer cairn rather than misreading it", async () => {
    await (await openSqliteMetadataStore(path)).close();
    const db = new Database(path);
    db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 'later')").run();
    db.close();
    await expect(openSqliteMetadataStore(path)).rejects.toThrow(/newer than this cairn knows/);
  });

  it("checks its path: empty, or in a folder that does not exist, is INVALID", async () => {
    await expect(openSqliteMetadataStore("")).rejects.toMatchObject({ code: "INVALID" });
    await expect(openSqliteMetadataStore(join(dir, "missing", "cairn.db"))).rejects.toMatchObject({
      code: "INVALID",
    });
  });

  it("reports what the database rejects as coded errors, never raw SQLite errors", async () => {
    const store = await openSqliteMetadataStore(path);
    const twice = { path: "a.bin", size: 1, mode: 0o644, sha256: sha(1) };
    await expect(
      store.createVersion(version("1.0.0", { files: [twice, twice] }), audit, () => audit),
    ).rejects.toMatchObject({ name: "CairnError", code: "INVALID" });
    // The failed create left nothing behind: the same version can be created cleanly.
    expect((await store.createVersion(version("1.0.0"), audit, () => audit)).seq).toBe(1);
    await store.close();
    await expect(store.listArtifacts()).rejects.toMatchObject({ name: "CairnError" });
  });

  it("writers in separate OS processes never share a version or a sequence number, and alias history stays linear", async () => {
    const workers = 4;
    const rounds = 25;
    // All writers open the fresh database at once: the migrations themselves race too.
    const children = Array.from({ length: workers }, (_, w) =>
      startNode(WRITER, [path, String(w), String(rounds)]),
    );
    for (const child of children) expect(await child.nextLine()).toBe("ready");
    for (const child of children) child.send("go");
    const results = await Promise.all(
      children.map(async (child) => {
        const line = await child.nextLine();
        expect(await child.exited, child.stderr()).toEqual({ code: 0, signal: null });
        return JSON.parse(line) as {
          created: [string, number][];
          conflicts: number;
          moves: number;
          moveConflicts: number;
          errors: string[];
        };
      }),
    );
    expect(results.flatMap((r) => r.errors)).toEqual([]);
    expect(appliedMigrations()).toEqual(appliedMigrations().map((_, i) => i + 1));

    const store = await openSqliteMetadataStore(path);
    try {
      const versions = await store.listVersions("shared");
      const total = rounds + workers * rounds;
      expect(versions).toHaveLength(total);
      expect(versions.map((v) => v.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expect(new Set(versions.map((v) => v.version)).size).toBe(total);
      // Every contested version was won exactly once; everyone else was told CONFLICT.
      expect(results.reduce((n, r) => n + r.conflicts, 0)).toBe(rounds * (workers - 1));
      // What each writer was told it created is what the database holds.
      const seqOf = new Map(versions.map((v) => [v.version, v.seq]));
      for (const [v, seq] of results.flatMap((r) => r.created)) expect(seqOf.get(v)).toBe(seq);

      const history = await store.aliasHistory("shared", "production");
      expect(history).toHaveLength(results.reduce((n, r) => n + r.moves, 0));
      expect(history[0]?.from).toBeNull();
      for (let i = 1; i < history.length; i++) expect(history[i]?.from).toBe(history[i - 1]?.to);
      expect((await store.getAlias("shared", "production"))?.version).toBe(history.at(-1)?.to);
      expect(await store.listAudit({})).toHaveLength(total + history.length);
    } finally {
      await store.close();
    }
  });

  // Where SQLite answers BUSY at once instead of waiting (two processes switching a fresh file to WAL together;
  // seen in CI as "cannot open the metadata database: the store is busy"), opening tries again.
  it("tries a step SQLite refuses as busy again until the holder lets go, and gives up after the timeout", () => {
    const holder = new Database(path);
    const other = new Database(path, { timeout: 0 });
    try {
      holder.exec("CREATE TABLE t (x)");
      holder.exec("BEGIN IMMEDIATE");
      let attempts = 0;
      whileBusy(() => {
        attempts++;
        if (attempts === 3) holder.exec("COMMIT");
        other.exec("BEGIN IMMEDIATE");
      });
      other.exec("COMMIT");
      expect(attempts).toBe(3);

      holder.exec("BEGIN IMMEDIATE");
      const started = Date.now();
      expect(() => whileBusy(() => other.exec("BEGIN IMMEDIATE"), 50)).toThrow(
        expect.objectContaining({ code: "SQLITE_BUSY" }),
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(50);
      holder.exec("COMMIT");

      // Any other error is not a wait: it is thrown at the first attempt.
      attempts = 0;
      expect(() =>
        whileBusy(() => {
          attempts++;
          other.exec("INSERT INTO missing VALUES (1)");
        }),
      ).toThrow(/no such table/);
      expect(attempts).toBe(1);
    } finally {
      other.close();
      holder.close();
    }
  });
});

describe("sqlite change mark", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "cairn-sqlite-mark-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("stays put across reads and moves with every commit, this connection's or another's", async () => {
    const path = join(dir, "cairn.db");
    const served = await openSqliteMetadataStore(path);
    const other = await openSqliteMetadataStore(path);
    try {
      const first = served.changeMark();
      await served.listArtifacts();
      await served.getVersion("resnet", "1.0.0");
      expect(served.changeMark()).toBe(first);

      await served.createVersion(version("1.0.0"), audit, () => audit);
      const afterOwn = served.changeMark();
      expect(afterOwn).not.toBe(first);
      expect(served.changeMark()).toBe(afterOwn);

      await other.createVersion(version("1.1.0"), audit, () => audit);
      expect(served.changeMark()).not.toBe(afterOwn);
    } finally {
      await other.close();
      await served.close();
    }
  });
});
