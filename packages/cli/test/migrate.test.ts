/**
 * `cairn migrate`, end to end through the real binary: an embedded registry moved to PostgreSQL + S3 (s3rver)
 * and back reads the same from every side, pulls the same bytes and verifies clean; a non-empty destination
 * and a bad URL are refused before anything is written; a migrate killed with SIGKILL leaves a destination
 * that holds no registry, and running it again completes.
 */
import { existsSync, readFileSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describePostgres, withDatabase } from "../../storage/test/helpers/postgres.js";
import { describeS3, startS3 } from "../../storage/test/helpers/s3-server.js";
import { removeSandboxes, type Sandbox, sandbox, sha256 } from "./_cli.js";

afterAll(removeSandboxes);

interface MigrateJson {
  dryRun: boolean;
  rows: Record<string, number>;
  packs: { count: number; bytes: number; copied: number; alreadyThere: number };
  verified: null | { ok: boolean; versions: { checked: number } };
}

/** A random-looking but reproducible payload, so chunks are real and files differ. */
function payload(seed: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

await describeS3("migrate", (s3) =>
  describePostgres("migrate", (db) => {
    let s: Sandbox;
    let runId: string;
    const model = payload(1, 400_000);
    const tweaked = Buffer.concat([model.subarray(0, 200_000), payload(2, 1000), model.subarray(200_000)]);

    /** A second, separate database on the same server (the first is the round trip's), dropped at the end. */
    const made: string[] = [];
    const otherDatabase = async (name: string): Promise<string> => {
      await db.admin.query(`CREATE DATABASE ${name}`);
      made.push(name);
      return withDatabase(db.url, name);
    };
    afterAll(async () => {
      for (const name of made) await db.admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    });

    /** The environment that makes cairn use PostgreSQL + S3 (prefix `prefix`). */
    const team = (url: string, prefix: string) => ({ CAIRN_DATABASE_URL: url, ...s3.env(prefix) });
    const s3Flags = (prefix: string) => ({ ...s3.env(prefix), CAIRN_BLOB_URL: undefined });

    beforeAll(async () => {
      s = await sandbox();
      s.write("data/iris.csv", "a,b\n1,2\n");
      await s.ok(["push", "iris", "data", "--type", "dataset", "--version", "1.0.0"]);
      s.write("model.bin", model);
      s.write("README.md", "# classifier\n");
      await s.ok([
        "push",
        "classifier",
        "model.bin",
        "README.md",
        // Not jsonb's order (shortest key first): every copy must show them in the order given.
        "--param",
        "epochs=10",
        "--param",
        "lr=0.01",
        "--metric",
        "accuracy=0.91",
        "--data",
        "iris@1.0.0",
        "--tag",
        "stage=candidate",
        "--alias",
        "production",
      ]);
      s.write("model.bin", tweaked);
      await s.ok(["push", "classifier", "model.bin", "--bump", "minor", "--metric", "accuracy=0.93"]);
      await s.ok(["alias", "set", "classifier", "production", "0.2.0", "--reason", "better"]);
      await s.ok(["rollback", "classifier", "production", "--reason", "regression"]);
      await s.ok(["alias", "protect", "classifier", "production"]);
      await s.ok(["tag", "classifier@0.2.0", "reviewed=yes"]);
      await s.ok(["notes", "classifier@0.2.0", "--message", "fine-tuned"]);
      await s.ok(["token", "create", "--role", "writer", "--name", "ci"]);
      runId = (
        await s.json<{ id: string }>([
          "run",
          "start",
          "--experiment",
          "iris",
          "--data",
          "iris@1.0.0",
          "--param",
          "lr=0.02",
        ])
      ).id;
      await s.ok(["run", "log", runId, "--metric", "loss=0.5", "--step", "1"]);
      await s.ok(["run", "log", runId, "--metric", "loss=NaN", "--step", "2", "--tag", "gpu=a100"]);
      await s.ok(["run", "artifact", runId, "README.md"]);
      await s.ok(["run", "end", runId]);
      await s.ok(["promote", runId, "tuned", "model.bin", "--alias", "staging"]);
    });

    /** Every read a user relies on, as text and as JSON, from the store `env` selects. */
    async function reads(env: Record<string, string | undefined>) {
      const text = async (args: string[]) => s.ok(args, env);
      const json = async (args: string[]) => s.json(args, env);
      return {
        text: {
          list: await text(["list"]),
          versions: await text(["list", "classifier"]),
          show: await text(["show", "classifier@production"]),
          showNewer: await text(["show", "classifier@0.2.0"]),
          history: await text(["alias", "history", "classifier"]),
          aliases: await text(["alias", "history", "tuned"]),
          run: await text(["run", "show", runId]),
          runs: await text(["run", "list"]),
          metrics: await text(["metrics", runId, "loss"]),
          lineage: await text(["lineage", "iris@1.0.0", "--down"]),
          search: await text(["search", "tags.stage = 'candidate'"]),
          searchMetric: await text(["search", "order by metrics.accuracy desc"]),
          tokens: await text(["token", "list"]),
        },
        // JSON values compared with toEqual: PostgreSQL's jsonb keeps the keys of an audit event's before/after
        // and of an environment in its own order, so there key order is the one thing allowed to differ (see
        // README, "Running cairn for a team"). Params keep the order given on both: `show` above prints them.
        json: {
          log: await json(["log", "--limit", "100"]),
          show: await json(["show", "classifier@0.2.0"]),
          run: await json(["run", "show", runId]),
          history: await json(["alias", "history", "classifier"]),
          lineage: await json(["lineage", "tuned@staging", "--up"]),
        },
      };
    }

    async function pulled(env: Record<string, string | undefined>, dir: string) {
      await s.ok(["pull", "classifier@production", "-o", dir], env);
      await s.ok(["pull", "classifier@0.2.0", "-o", `${dir}-new`], env);
      return [
        sha256(readFileSync(s.path(dir, "model.bin"))),
        sha256(readFileSync(s.path(dir, "README.md"))),
        sha256(readFileSync(s.path(`${dir}-new`, "model.bin"))),
      ];
    }

    it("embedded → PostgreSQL + S3 → embedded: every read, pull and verify is the same on each side", async () => {
      const original = await reads({});
      const originalBytes = await pulled({}, "pulled-a");
      expect(originalBytes).toEqual([sha256(model), sha256("# classifier\n"), sha256(tweaked)]);

      const dry = await s.json<MigrateJson>(
        ["migrate", "--to-database", db.url, "--to-blobs", `s3://${s3.bucket}/team`, "--dry-run"],
        s3Flags("team"),
      );
      expect(dry).toMatchObject({ dryRun: true, verified: null, packs: { copied: 0 } });
      expect(dry.rows.versions).toBe(4);

      const run = await s.run(
        ["migrate", "--to-database", db.url, "--to-blobs", `s3://${s3.bucket}/team`, "--json"],
        s3Flags("team"),
      );
      expect(run.code, run.stderr).toBe(0);
      const there = JSON.parse(run.stdout) as MigrateJson;
      expect(there.rows).toEqual(dry.rows);
      expect(there.verified).toMatchObject({ ok: true, versions: { checked: 4 } });
      expect(there.packs.copied).toBe(there.packs.count);
      // Progress went to stderr, table by table.
      expect(run.stderr).toMatch(/^ {2}alias_events: 4 rows$/m);

      const env = team(db.url, "team");
      const onTeam = await reads(env);
      expect(onTeam.text).toEqual(original.text);
      expect(onTeam.json).toEqual(original.json);
      expect(await pulled(env, "pulled-b")).toEqual(originalBytes);
      expect(await s.ok(["verify"], env)).toMatch(/^ok: the store verified/);
      // The protected flag came along (no command prints it; the table holds it).
      const flags = await db.admin.query<{ alias: string; protected: boolean }>(
        "SELECT alias, protected FROM aliases ORDER BY alias",
      );
      expect(flags.rows).toEqual([
        { alias: "production", protected: true },
        { alias: "staging", protected: false },
      ]);

      const back = await s.json<MigrateJson>(["migrate", "--to", s.path("back")], env);
      expect(back.verified).toMatchObject({ ok: true });
      expect(back.rows).toEqual(there.rows);
      const home = { CAIRN_HOME: s.path("back") };
      const onBack = await reads(home);
      expect(onBack.text).toEqual(original.text);
      expect(onBack.json).toEqual(original.json);
      expect(await pulled(home, "pulled-c")).toEqual(originalBytes);
      expect(await s.ok(["verify"], home)).toMatch(/^ok: the store verified/);
      // Ids and sequences carry on after the copy: new writes on the copy land after the copied ones.
      s.write("model.bin", payload(3, 1000));
      await s.ok(["push", "classifier", "model.bin", "--bump", "patch"], env);
      const newest = await s.json<{ seq: number }>(["show", "classifier@latest"], env);
      expect(newest.seq).toBe(3);
      // About forty CLI runs, each a process start: 40 s alone, more beside another test file.
    }, 240_000);

    it("refuses a non-empty destination and writes nothing there", async () => {
      const url = await otherDatabase(`cairn_migrate_full_${process.pid}`);
      await s.ok(["migrate", "--to-database", url, "--to-blobs", `s3://${s3.bucket}/full`], s3Flags("full"));
      const env = team(url, "full");
      const before = await s.ok(["log", "--json", "--limit", "1000"], env);
      const again = await s.run(
        ["migrate", "--to-database", url, "--to-blobs", `s3://${s3.bucket}/full`, "--json"],
        s3Flags("full"),
      );
      expect(again.code).toBe(1);
      expect(JSON.parse(again.stdout)).toMatchObject({
        error: { code: "CONFLICT", message: expect.stringContaining("is not empty") },
      });
      expect(await s.ok(["log", "--json", "--limit", "1000"], env)).toBe(before);
      // An embedded folder that already holds a store likewise.
      const other = await sandbox();
      other.write("x.bin", "x");
      await other.ok(["push", "x", "x.bin"]);
      const into = await s.run(["migrate", "--to", other.home]);
      expect(into.code).toBe(1);
      expect(into.stderr).toContain("is not empty");
      expect(await other.json<unknown[]>(["list"])).toHaveLength(1);
    });

    it("cairn init honours CAIRN_DATABASE_URL and CAIRN_BLOB_URL: schema in PostgreSQL, no folder here", async () => {
      const url = await otherDatabase(`cairn_migrate_init_${process.pid}`);
      const fresh = await sandbox({ init: false });
      const env = team(url, "init");
      const created = await fresh.json<{ database: string; blobs: string; artifacts: number }>(["init"], env);
      expect(created).toMatchObject({ blobs: `s3://${s3.bucket}/init`, artifacts: 0 });
      expect(created.database).not.toContain("@");
      expect(existsSync(fresh.home)).toBe(false);
      // The schema is there before any other command ran.
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM schema_migrations",
        );
        expect(rows[0]!.n).toBeGreaterThan(0);
      } finally {
        await client.end();
      }
      fresh.write("m.bin", "weights");
      await fresh.ok(["push", "m", "m.bin"], env);
      expect(await fresh.json(["init"], env)).toMatchObject({ artifacts: 1 });
      // Only the database named: the blobs go to .cairn/ in this folder.
      const half = await otherDatabase(`cairn_migrate_half_${process.pid}`);
      expect(await fresh.json(["init"], { CAIRN_DATABASE_URL: half })).toMatchObject({
        blobs: fresh.path(".cairn", "blobs"),
      });
      expect(existsSync(fresh.path(".cairn", "blobs"))).toBe(true);
      expect(existsSync(fresh.path(".cairn", "cairn.db"))).toBe(false);
    });

    it("a bad destination is a usage error (exit 2) before anything is opened", async () => {
      for (const args of [
        ["--to-database", "mysql://db/cairn", "--to", "x"],
        ["--to-database", "postgres://127.0.0.1/cairn"],
        ["--to-blobs", "http://bucket/prefix", "--to", "x"],
        [],
      ]) {
        const result = await s.run(["migrate", ...args, "--json"]);
        expect(result.code, args.join(" ")).toBe(2);
        expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: "USAGE" } });
      }
    });

    it("moves to another S3 service with its own keys (CAIRN_TO_…); a bad CAIRN_TO_S3_ENDPOINT writes nothing", async () => {
      // Service B: same bucket name, another endpoint, and it refuses the source's key (S3RVER).
      const keysB = { accessKeyId: "SERVICE-B", secretAccessKey: "secret-of-b" };
      const b = await startS3(s3.bucket, keysB);
      try {
        const first = await otherDatabase(`cairn_migrate_hop_a_${process.pid}`);
        const second = await otherDatabase(`cairn_migrate_hop_b_${process.pid}`);
        await s.ok(
          ["migrate", "--to-database", first, "--to-blobs", `s3://${s3.bucket}/hop`],
          s3Flags("hop"),
        );
        const onA = team(first, "hop");
        const args = ["migrate", "--to-database", second, "--to-blobs", `s3://${s3.bucket}/hop`, "--json"];
        const toB = {
          CAIRN_TO_S3_ENDPOINT: b.endpoint,
          CAIRN_TO_AWS_ACCESS_KEY_ID: keysB.accessKeyId,
          CAIRN_TO_AWS_SECRET_ACCESS_KEY: keysB.secretAccessKey,
          CAIRN_TO_AWS_REGION: "eu-west-1",
        };
        const tablesIn = async (url: string) => {
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          try {
            const { rows } = await client.query<{ n: number }>(
              "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'",
            );
            return rows[0]!.n;
          } finally {
            await client.end();
          }
        };
        const objectsIn = async (server: typeof b, prefix: string) => {
          const { S3BlobStore, parseS3Location } = await import("@cairn/storage/s3");
          const store = new S3BlobStore({
            ...parseS3Location(`s3://${server.bucket}/${prefix}`, { CAIRN_S3_ENDPOINT: server.endpoint }),
            credentials: server.credentials,
          });
          try {
            const keys: string[] = [];
            for await (const blob of store.list("")) keys.push(blob.key);
            return keys;
          } finally {
            store.close();
          }
        };

        // Bad destination settings are usage errors naming the variable, before the database or bucket is touched.
        for (const [variable, value] of [
          ["CAIRN_TO_S3_ENDPOINT", "minio:9000"],
          ["CAIRN_TO_S3_FORCE_PATH_STYLE", "maybe"],
          ["CAIRN_TO_AWS_SECRET_ACCESS_KEY", undefined],
        ] as const) {
          const bad = await s.run(args, { ...onA, ...toB, [variable]: value });
          expect(bad.code, bad.stderr).toBe(2);
          const { error } = JSON.parse(bad.stdout) as { error: { code: string; message: string } };
          expect(error.code).toBe("USAGE");
          expect(error.message).toContain(variable);
        }
        expect(await tablesIn(second)).toBe(0);
        expect(await objectsIn(b, "hop")).toEqual([]);
        // Without the destination's own key, B refuses the source's: the keys really are B's alone.
        const sourceKeys = await s.run(args, { ...onA, CAIRN_TO_S3_ENDPOINT: b.endpoint });
        expect(sourceKeys.code, sourceKeys.stderr).toBe(1);
        expect(JSON.parse(sourceKeys.stdout)).toMatchObject({ error: { code: "UNAUTHORIZED" } });
        const wrongSecret = await s.run(args, { ...onA, ...toB, CAIRN_TO_AWS_SECRET_ACCESS_KEY: "not-b" });
        expect(JSON.parse(wrongSecret.stdout)).toMatchObject({ error: { code: "UNAUTHORIZED" } });
        expect(await tablesIn(second)).toBe(0);

        const moved = await s.run(args, { ...onA, ...toB });
        expect(moved.code, moved.stderr).toBe(0);
        const report = JSON.parse(moved.stdout) as MigrateJson;
        expect(report.verified).toMatchObject({ ok: true, versions: { checked: 4 } });
        expect(report.packs.copied).toBe(report.packs.count);
        expect((await objectsIn(b, "hop")).length).toBeGreaterThanOrEqual(report.packs.count);

        // The final copy, read with B's settings only, pulls the original bytes.
        const onB = { CAIRN_DATABASE_URL: second, ...b.env("hop") };
        expect(await pulled(onB, "pulled-hop")).toEqual([
          sha256(model),
          sha256("# classifier\n"),
          sha256(tweaked),
        ]);
        expect(await s.ok(["verify"], onB)).toMatch(/^ok: the store verified/);
      } finally {
        await b.close();
      }
    }, 120_000);

    it("killed with SIGKILL mid-copy, the destination holds no registry; running it again completes", async () => {
      const url = await otherDatabase(`cairn_migrate_kill_${process.pid}`);
      // Enough rows that the copy is still loading tables when the first table is reported.
      const { openEmbeddedStore } = await import("@cairn/storage");
      const store = await openEmbeddedStore(s.home);
      try {
        const points = Array.from({ length: 300_000 }, (_, step) => ({
          key: "loss",
          step,
          timestamp: 1_700_000_000_000 + step,
          value: 1 / (step + 1),
        }));
        const bulk = await s.json<{ id: string }>(["run", "start", "--experiment", "bulk"]);
        await store.tracking.logToRun(bulk.id, { metrics: points });
      } finally {
        await store.close();
      }
      const args = ["migrate", "--to-database", url, "--to-blobs", `s3://${s3.bucket}/killed`];
      const running = s.start(args, s3Flags("killed"));
      // Killed as soon as it reports its first table: the load's one transaction is still open.
      await new Promise<void>((resolve, reject) => {
        let seen = "";
        running.child.stderr!.on("data", (text: string) => {
          seen += text;
          if (/ {2}artifacts: \d+ rows/.test(seen)) {
            running.child.kill("SIGKILL");
            resolve();
          }
        });
        running.done.then(() => reject(new Error(`migrate ended before it was killed:\n${seen}`)), reject);
      });
      expect((await running.done).signal).toBe("SIGKILL");
      // No registry there: empty, not a partial copy that looks complete.
      const env = team(url, "killed");
      expect(await s.json<unknown[]>(["list"], env)).toEqual([]);
      // Running it again copies everything and verifies it.
      const again = await s.json<MigrateJson>(args, s3Flags("killed"));
      expect(again.verified).toMatchObject({ ok: true });
      expect(again.rows.run_metrics).toBeGreaterThanOrEqual(300_000);
      expect(await s.ok(["list"], env)).toBe(await s.ok(["list"]));
      expect(await s.ok(["verify"], env)).toMatch(/^ok/);
    });
  }),
);
