/**
 * The PostgreSQL metadata driver: the shared contract, then what only a shared database server raises —
 * migrations raced by several servers starting at once, and the rules that must hold across connections
 * (versions and their numbers, alias history, garbage collection against claims), each driven from several
 * stores with their own connection pools, as separate server processes would.
 */
import type { NewVersion } from "@cairn/core";
import { openPostgresMetadataStore, type PostgresMetadataStore } from "@cairn/storage";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { newVersion, runMetadataContract, sha } from "./contract/metadata-contract.js";
import { describePostgres } from "./helpers/postgres.js";

const version = (v: string, extra: Partial<NewVersion> = {}): NewVersion =>
  newVersion("resnet", v, { createdAt: new Date().toISOString(), ...extra });
const audit = (actor = "ada", action = "x") => ({
  at: new Date().toISOString(),
  actor,
  action,
  artifact: "resnet",
  target: "x",
  before: null,
  after: null,
});

/** Resolves once some backend of this database waits for a lock (the move queued behind the protect). */
async function waitForLockWait(admin: pg.Client): Promise<void> {
  for (;;) {
    const { rows } = await admin.query(
      "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    );
    if (rows.length > 0) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

await describePostgres("metadata", (db) => {
  runMetadataContract("postgres", () => openPostgresMetadataStore({ url: db.url }), db.reset);

  describe("PostgreSQL metadata store", () => {
    const opened: PostgresMetadataStore[] = [];
    /** Another server's store: its own pool of connections. */
    const connect = async (poolSize = 2) => {
      const store = await openPostgresMetadataStore({ url: db.url, poolSize });
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
      await db.reset();
    });

    const appliedMigrations = async () =>
      (
        await db.admin.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version")
      ).rows.map((r) => r.version);

    /** Builds the database as cairn left it after migration `last`; returns every migration there is. */
    const databaseAtMigration = async (last: number): Promise<readonly string[]> => {
      const { MIGRATIONS } = await import("../dist/postgres/_migrations.js");
      await db.admin.query(
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at text NOT NULL)",
      );
      for (let v = 1; v <= last; v++) {
        await db.admin.query(MIGRATIONS[v - 1]!);
        await db.admin.query("INSERT INTO schema_migrations VALUES ($1, 'before')", [v]);
      }
      return MIGRATIONS;
    };

    it("servers starting at once on a fresh database apply each migration exactly once", async () => {
      const stores = await Promise.all(Array.from({ length: 6 }, () => connect(1)));
      const applied = await appliedMigrations();
      expect(applied.length).toBeGreaterThan(0);
      expect(applied).toEqual(applied.map((_, i) => i + 1));
      await stores[0]!.createVersion(version("1.0.0"), audit(), () => audit());
      // Reopening applies nothing again and keeps the data.
      const again = await connect();
      expect((await again.getVersion("resnet", "1.0.0"))?.seq).toBe(1);
      expect(await appliedMigrations()).toEqual(applied);
    });

    it("a move waits for a protect in flight on the alias and then honours it", async () => {
      const store = await connect();
      await store.createVersion(version("1.0.0", { aliases: ["production"] }), audit(), () => audit());
      await store.createVersion(version("1.1.0"), audit(), () => audit());
      // Another server's protect holds the alias row, not yet committed, when the move starts.
      const protector = new pg.Client({ connectionString: db.url });
      await protector.connect();
      try {
        await protector.query("BEGIN");
        await protector.query("UPDATE aliases SET protected = true WHERE alias = 'production'");
        const moving = store.moveAlias(
          {
            artifact: "resnet",
            alias: "production",
            action: "set",
            expectedFrom: "1.0.0",
            to: "1.1.0",
            actor: "bob",
            at: new Date().toISOString(),
            reason: null,
            mayMoveProtected: false,
          },
          audit("bob"),
        );
        const outcome = moving.then(
          () => "moved",
          (error: unknown) => error,
        );
        // The move is blocked on the row lock until the protect commits (a waiting backend, not a sleep).
        await waitForLockWait(db.admin);
        await protector.query("COMMIT");
        expect(await outcome).toMatchObject({ code: "FORBIDDEN" });
      } finally {
        await protector.end();
      }
      expect((await store.getAlias("resnet", "production"))?.version).toBe("1.0.0");
      expect(await store.aliasHistory("resnet", "production")).toHaveLength(1);
    });

    it("a push still open when a database written before migration 8 is upgraded keeps its packs' chunks", async () => {
      // The database as cairn left it at migration 7: packs named the session that wrote them.
      const MIGRATIONS = await databaseAtMigration(7);
      const now = new Date().toISOString();
      const open = "00000000-0000-4000-8000-0000000000a1";
      await db.admin.query(
        "INSERT INTO upload_sessions (id, host, pid, started_at, heartbeat_at) VALUES ($1, 'test', 1, $2, $2)",
        [open, now],
      );
      // Written by the open push, by one that has ended, and by none (a rebuilt index); no file uses any.
      const writers = [open, "00000000-0000-4000-8000-0000000000a2", null];
      const hashes = [sha(0xa1), sha(0xa2), sha(0xa3)];
      for (const [i, writer] of writers.entries()) {
        await db.admin.query(
          `WITH p AS (INSERT INTO packs (key, size, chunk_count, created_at, session_id)
                      VALUES ($1, 10, 1, $2, $3) RETURNING id)
           INSERT INTO chunks (hash, pack_id, "offset", length) SELECT decode($4, 'hex'), id, 0, 10 FROM p`,
          [`packs/${i}.pack`, now, writer, hashes[i]],
        );
      }

      const store = await connect();
      expect(await appliedMigrations()).toEqual(MIGRATIONS.map((_, i) => i + 1));
      await store.chunkIndex().sweep({ deadSessionIds: [], dryRun: false });
      expect([...(await store.chunkIndex().locateChunks(hashes)).keys()]).toEqual([hashes[0]]);
      // Its claim is an ordinary one now: it ends with the session.
      await store.chunkIndex().endSession(open);
      await store.chunkIndex().sweep({ deadSessionIds: [], dryRun: false });
      expect((await store.chunkIndex().locateChunks(hashes)).size).toBe(0);
    });

    it("a version written before migration 9 (params as jsonb) reads and searches the same after the upgrade", async () => {
      const MIGRATIONS = await databaseAtMigration(8);
      const params = { zeta: 1, lr: 0.1, optimizer: { name: "adam", b: 2 } };
      await db.admin.query(
        `WITH a AS (INSERT INTO artifacts (name, type, created_at) VALUES ('resnet', 'model', $1) RETURNING id)
         INSERT INTO versions (artifact_id, version, seq, created_at, created_by, params, major, minor, patch)
         SELECT id, '1.0.0', 1, $1, 'ada', $2::jsonb, 1, 0, 0 FROM a`,
        [new Date().toISOString(), JSON.stringify(params)],
      );

      const store = await connect();
      expect(await appliedMigrations()).toEqual(MIGRATIONS.map((_, i) => i + 1));
      // The same values; the keys stay in the order jsonb had put them in (the order given was never stored).
      const old = await store.getVersion("resnet", "1.0.0");
      expect(old?.params).toEqual(params);
      expect(Object.keys(old!.params)).toEqual(["lr", "zeta", "optimizer"]);
      const later = { zeta: 2, lr: 0.1 };
      await store.createVersion(version("1.1.0", { params: later }), audit(), () => audit());
      expect(JSON.stringify((await store.getVersion("resnet", "1.1.0"))?.params)).toBe(JSON.stringify(later));
      const page = await store
        .search()
        .search({ kind: "versions", query: "params.lr = 0.1 order by params.zeta" });
      expect(page.hits.map((hit) => hit.kind === "version" && hit.version)).toEqual(["1.0.0", "1.1.0"]);
    });

    it("a version and audit event written before migration 10 (code, environment as jsonb) read the same after it", async () => {
      const MIGRATIONS = await databaseAtMigration(9);
      const code = {
        remote: null,
        branch: "main",
        commit: "c0ffee",
        dirty: true,
        patch: sha(0xb1),
        path: null,
      };
      const environment = { runtime: "node v20", platform: "linux" };
      const now = new Date().toISOString();
      await db.admin.query(
        `WITH a AS (INSERT INTO artifacts (name, type, created_at) VALUES ('resnet', 'model', $1) RETURNING id)
         INSERT INTO versions (artifact_id, version, seq, created_at, created_by, params, code, environment,
                               major, minor, patch)
         SELECT id, '1.0.0', 1, $1, 'ada', '{}', $2::jsonb, $3::jsonb, 1, 0, 0 FROM a`,
        [now, JSON.stringify(code), JSON.stringify(environment)],
      );
      await db.admin.query(
        `INSERT INTO audit_events (at, actor, action, artifact, target, before, after)
         VALUES ($1, 'ada', 'version.create', 'resnet', 'resnet@1.0.0', 'null'::jsonb, $2::jsonb)`,
        [now, JSON.stringify({ type: "model", files: 1 })],
      );

      const store = await connect();
      expect(await appliedMigrations()).toEqual(MIGRATIONS.map((_, i) => i + 1));
      const read = await store.getVersion("resnet", "1.0.0");
      expect(read?.code).toEqual(code);
      expect(read?.environment).toEqual(environment);
      expect((await store.listAudit({}))[0]?.after).toEqual({ type: "model", files: 1 });
      // The code patch is still a garbage-collection root (the view over it was made again).
      expect(await store.listLiveContent()).toContain(sha(0xb1));
    });

    it("refuses a database written by a newer cairn rather than misreading it", async () => {
      await connect();
      await db.admin.query("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 'later')");
      await expect(openPostgresMetadataStore({ url: db.url })).rejects.toThrow(/newer than this cairn knows/);
    });

    it("checks its options, and names an unreachable server without its password", async () => {
      await expect(openPostgresMetadataStore({ url: "mysql://x" })).rejects.toMatchObject({
        code: "INVALID",
      });
      await expect(openPostgresMetadataStore({ url: db.url, poolSize: 0 })).rejects.toMatchObject({
        code: "INVALID",
      });
      // Port 1 on loopback: nothing listens, the connection is refused at once.
      const refused = openPostgresMetadataStore({ url: "postgres://cairn:hunter2@127.0.0.1:1/cairn" });
      await expect(refused).rejects.toMatchObject({
        name: "CairnError",
        message: expect.stringContaining("cannot reach PostgreSQL at 127.0.0.1:1/cairn"),
      });
      await expect(refused).rejects.not.toThrow(/hunter2/);
    });

    it("reports what the database rejects as coded errors, and a failed write leaves nothing behind", async () => {
      const store = await connect();
      const twice = { path: "a.bin", size: 1, mode: 0o644, sha256: sha(1) };
      await expect(
        store.createVersion(version("1.0.0", { files: [twice, twice] }), audit(), () => audit()),
      ).rejects.toMatchObject({ name: "CairnError", code: "INVALID", message: "file a.bin is given twice" });
      // PostgreSQL text cannot hold a NUL character: the caller's input, not a server failure.
      await expect(
        store.createVersion(version("1.0.0", { notes: "a\u0000b" }), audit(), () => audit()),
      ).rejects.toMatchObject({ name: "CairnError", code: "INVALID" });
      expect(await store.listArtifacts()).toEqual([]);
      expect((await store.createVersion(version("1.0.0"), audit(), () => audit())).seq).toBe(1);
      await store.close();
      await expect(store.listArtifacts()).rejects.toMatchObject({ name: "CairnError" });
    });

    it("stores NaN and -0 metrics as SQLite does: NaN is NULL (it matches no comparison), -0 is 0", async () => {
      const store = await connect();
      await store.createVersion(
        version("1.0.0", { metrics: { nan: Number.NaN, negzero: -0, inf: Number.POSITIVE_INFINITY } }),
        audit(),
        () => audit(),
      );
      const rows = (
        await db.admin.query<{ key: string; value: number | null; special: string | null }>(
          "SELECT key, value, special FROM version_metrics ORDER BY key",
        )
      ).rows;
      expect(rows).toEqual([
        { key: "inf", value: Number.POSITIVE_INFINITY, special: null },
        { key: "nan", value: null, special: "NaN" },
        { key: "negzero", value: 0, special: "-0" },
      ]);
      const found = await db.admin.query("SELECT key FROM version_metrics WHERE value > 0.9 ORDER BY key");
      expect(found.rows).toEqual([{ key: "inf" }]);
    });

    it("writers on separate connections never share a version or a sequence number, and alias history stays linear", async () => {
      const workers = 4;
      const rounds = 15;
      const stores = await Promise.all(Array.from({ length: workers }, () => connect()));
      const results = await Promise.all(
        stores.map(async (store, worker) => {
          const result = { created: [] as [string, number][], conflicts: 0, moves: 0, moveConflicts: 0 };
          for (let round = 0; round < rounds; round++) {
            // Every writer tries 0.<round>.0 (exactly one may win); <worker + 1>.<round>.0 is this writer's own.
            for (const v of [`0.${round}.0`, `${worker + 1}.${round}.0`]) {
              try {
                const created = await store.createVersion(
                  version(v, { artifact: "shared", createdBy: `w${worker}` }),
                  audit(`w${worker}`, "version.create"),
                  () => audit(`w${worker}`, "alias.set"),
                );
                result.created.push([created.version, created.seq]);
              } catch (error) {
                if ((error as { code?: string }).code !== "CONFLICT") throw error;
                result.conflicts++;
              }
            }
            // Read, then compare-and-set: another writer may move the alias in between, and then this move fails.
            const to = `${worker + 1}.${round}.0`;
            const current = (await store.getAlias("shared", "production"))?.version ?? null;
            try {
              await store.moveAlias(
                {
                  artifact: "shared",
                  alias: "production",
                  action: "set",
                  expectedFrom: current,
                  to,
                  actor: `w${worker}`,
                  at: new Date().toISOString(),
                  reason: null,
                },
                audit(`w${worker}`, "alias.set"),
              );
              result.moves++;
            } catch (error) {
              if ((error as { code?: string }).code !== "CONFLICT") throw error;
              result.moveConflicts++;
            }
          }
          return result;
        }),
      );

      const store = await connect();
      const versions = await store.listVersions("shared");
      const total = rounds + workers * rounds;
      expect(versions).toHaveLength(total);
      expect(versions.map((v) => v.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expect(new Set(versions.map((v) => v.version)).size).toBe(total);
      expect(results.reduce((n, r) => n + r.conflicts, 0)).toBe(rounds * (workers - 1));
      const seqOf = new Map(versions.map((v) => [v.version, v.seq]));
      for (const [v, seq] of results.flatMap((r) => r.created)) expect(seqOf.get(v)).toBe(seq);

      const history = await store.aliasHistory("shared", "production");
      expect(history).toHaveLength(results.reduce((n, r) => n + r.moves, 0));
      expect(history[0]?.from).toBeNull();
      for (let i = 1; i < history.length; i++) expect(history[i]?.from).toBe(history[i - 1]?.to);
      expect((await store.getAlias("shared", "production"))?.version).toBe(history.at(-1)?.to);
      expect(await store.listAudit({})).toHaveLength(total + history.length);
    });

    it("concurrent first moves of an alias that does not exist yet: exactly one wins", async () => {
      const stores = await Promise.all(Array.from({ length: 5 }, () => connect(1)));
      await stores[0]!.createVersion(version("1.0.0"), audit(), () => audit());
      const outcomes = await Promise.allSettled(
        stores.map((store, i) =>
          store.moveAlias(
            {
              artifact: "resnet",
              alias: "staging",
              action: "set",
              expectedFrom: null,
              to: "1.0.0",
              actor: `w${i}`,
              at: new Date().toISOString(),
              reason: null,
            },
            audit(`w${i}`),
          ),
        ),
      );
      expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
      for (const o of outcomes) {
        if (o.status === "rejected") expect(o.reason).toMatchObject({ code: "CONFLICT" });
      }
      expect(await stores[1]!.aliasHistory("resnet", "staging")).toHaveLength(1);
    });

    it("createVersion pointing an alias races a move of it: the history stays linear", async () => {
      const [a, b] = await Promise.all([connect(), connect()]);
      await a.createVersion(version("1.0.0", { aliases: ["production"] }), audit(), () => audit());
      for (let round = 1; round <= 10; round++) {
        const current = (await b.getAlias("resnet", "production"))!.version;
        await Promise.allSettled([
          a.createVersion(version(`1.${round}.0`, { aliases: ["production"] }), audit(), () => audit()),
          b.moveAlias(
            {
              artifact: "resnet",
              alias: "production",
              action: "rollback",
              expectedFrom: current,
              to: "1.0.0",
              actor: "b",
              at: new Date().toISOString(),
              reason: null,
            },
            audit("b"),
          ),
        ]);
      }
      const history = await a.aliasHistory("resnet", "production");
      for (let i = 1; i < history.length; i++) expect(history[i]?.from).toBe(history[i - 1]?.to);
      expect((await a.getAlias("resnet", "production"))?.version).toBe(history.at(-1)?.to);
    });

    it("a push's own packs keep their chunks while its session lives, and so does a pack that got one of its chunks first", async () => {
      const [first, second, collector] = await Promise.all([connect(), connect(), connect()]);
      const now = new Date().toISOString();
      const session = (id: string) => ({ id, host: "test", pid: 1, startedAt: now, heartbeatAt: now });
      const [s, t] = ["00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"];
      const [a, b, c] = [sha(0xa), sha(0xb), sha(0xc)];
      const at = (pack: string, hash: string, offset: number) => ({ hash, pack, offset, length: 10 });
      const pack = (key: string, n: number) => ({ key, size: n * 10, chunkCount: n, createdAt: now });
      await first.chunkIndex().touchSession(session(s));
      await first
        .chunkIndex()
        .addPack(pack("packs/s.pack", 2), [at("packs/s.pack", a, 0), at("packs/s.pack", b, 10)], s);
      // New chunks need no claim rows of their own: the session's claim on its pack protects them.
      expect((await db.admin.query("SELECT * FROM claims")).rows).toEqual([]);
      const stored = async () => [...(await collector.chunkIndex().locateChunks([a, b, c])).keys()].sort();
      await collector.chunkIndex().sweep({ deadSessionIds: [], dryRun: false });
      expect(await stored()).toEqual([a, b]);

      await second.chunkIndex().touchSession(session(t));
      await second
        .chunkIndex()
        .addPack(pack("packs/t.pack", 2), [at("packs/t.pack", b, 0), at("packs/t.pack", c, 10)], t);
      // b keeps its first location, in s's pack, and t claims that pack: all of it outlives s, as on SQLite.
      expect((await collector.chunkIndex().locateChunks([b])).get(b)?.pack).toBe("packs/s.pack");
      await first.chunkIndex().endSession(s);
      await collector.chunkIndex().sweep({ deadSessionIds: [], dryRun: false });
      expect(await stored()).toEqual([a, b, c]);
      await second.chunkIndex().endSession(t);
      await collector.chunkIndex().sweep({ deadSessionIds: [], dryRun: false });
      expect(await stored()).toEqual([]);
    });

    it("a sweep on one connection never takes a chunk another connection's claim found", async () => {
      const [pusher, collector, writer] = await Promise.all([connect(), connect(), connect()]);
      const now = new Date().toISOString();
      const session = (id: string) => ({ id, host: "test", pid: 1, startedAt: now, heartbeatAt: now });
      const pushSession = "00000000-0000-4000-8000-000000000001";
      await pusher.chunkIndex().touchSession(session(pushSession));
      for (let round = 0; round < 25; round++) {
        // Garbage: a pack whose chunks no content uses, left by a session that has ended.
        const leaver = `00000000-0000-4000-8000-1${String(round).padStart(11, "0")}`;
        await writer.chunkIndex().touchSession(session(leaver));
        const hashes = Array.from({ length: 40 }, (_, i) => sha(round * 1000 + i + 1));
        await writer.chunkIndex().addPack(
          { key: `packs/${round}.pack`, size: 40 * 100, chunkCount: 40, createdAt: now },
          hashes.map((hash, i) => ({ hash, pack: `packs/${round}.pack`, offset: i * 100, length: 100 })),
          leaver,
        );
        await writer.chunkIndex().endSession(leaver);
        // The push claims the garbage chunks while the collector sweeps: whichever goes first, a chunk the
        // claim reports as stored must still be stored afterwards.
        const [found] = await Promise.all([
          pusher.chunkIndex().claimChunks(pushSession, hashes),
          collector.chunkIndex().sweep({ deadSessionIds: [], dryRun: false }),
        ]);
        const located = await collector.chunkIndex().locateChunks([...found]);
        expect([...located.keys()].sort()).toEqual([...found].sort());
        // A second sweep keeps every claimed chunk.
        await collector.chunkIndex().sweep({ deadSessionIds: [], dryRun: false });
        expect((await collector.chunkIndex().locateChunks([...found])).size).toBe(found.size);
      }
      // Once the push's session is judged dead, its claims no longer protect anything.
      const swept = await collector.chunkIndex().sweep({ deadSessionIds: [pushSession], dryRun: false });
      expect(await collector.chunkIndex().listSessions()).toEqual([]);
      expect(swept.packs.every((p) => p.liveChunks === 0)).toBe(true);
    });
  });
});
