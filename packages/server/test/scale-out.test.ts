/**
 * Issue 5's "must hold" for running cairn as a team service: three `cairn serve` processes on one PostgreSQL
 * database and one S3 bucket (s3rver, started here), driven by SDK clients spread over them. Concurrent pushes
 * and alias moves stay consistent across processes; a server killed mid-push leaves nothing partial and the
 * push completes through another; garbage collection in another process never breaks a committed version.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type AliasEvent, type AuditEvent, allPages, CairnClient } from "@cairn/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describePostgres } from "../../storage/test/helpers/postgres.js";
import { describeS3 } from "../../storage/test/helpers/s3-server.js";

const CLI = fileURLToPath(new URL("../../cli/bin/cairn.js", import.meta.url));
const run = promisify(execFile);
const MiB = 1024 * 1024;

interface Server {
  child: ChildProcess;
  url: string;
  exited: Promise<unknown>;
}

async function collectAll<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

await describeS3("scale-out", (s3) =>
  describePostgres("scale_out", (db) => {
    let dir: string;
    const servers: Server[] = [];

    /** The environment every cairn process of the deployment shares: the database and the bucket. */
    const env = (): NodeJS.ProcessEnv => {
      const clean: NodeJS.ProcessEnv = {
        ...process.env,
        NO_COLOR: "1",
        CAIRN_DATABASE_URL: db.url,
        ...s3.env("team"),
      };
      for (const name of ["CAIRN_URL", "CAIRN_TOKEN", "CAIRN_HOME", "CAIRN_DEBUG"]) delete clean[name];
      return clean;
    };

    async function startServer(): Promise<Server> {
      const child = spawn(
        process.execPath,
        [CLI, "serve", "--port", "0", "--log-level", "warn", "--rate-limit", "off"],
        {
          cwd: dir,
          env: env(),
        },
      );
      let stderr = "";
      child.stderr?.on("data", (chunk) => {
        stderr += String(chunk);
      });
      const exited = new Promise((resolve) => child.on("exit", resolve));
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout?.on("data", (chunk) => {
          out += String(chunk);
          const match = /listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
          if (match) resolve(match[1]!);
        });
        child.on("exit", () => reject(new Error(`cairn serve exited before listening; stderr:\n${stderr}`)));
      });
      const server = { child, url, exited };
      servers.push(server);
      return server;
    }

    const cli = async (...args: string[]) => {
      const { stdout } = await run(process.execPath, [CLI, ...args, "--json"], { cwd: dir, env: env() });
      return JSON.parse(stdout);
    };

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "cairn-scale-out-"));
      // Started together: the first to reach the empty database migrates it, the others wait for it.
      await Promise.all([startServer(), startServer(), startServer()]);
    }, 60_000);

    afterAll(async () => {
      for (const server of servers) {
        if (server.child.exitCode === null && server.child.signalCode === null) {
          server.child.kill("SIGTERM");
          await server.exited;
        }
      }
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const clients = () =>
      servers
        .filter((s) => s.child.exitCode === null && s.child.signalCode === null)
        .map((s) => new CairnClient({ url: s.url }));

    describe("three servers on one database and one bucket", () => {
      it("8 clients pushing with bump and moving production 200 times: no duplicates, one linear history, one state everywhere", async () => {
        const live = clients();
        const name = "shared-model";
        const pushed: string[] = [];
        const perClient = 25;
        await Promise.all(
          Array.from({ length: 8 }, async (_, c) => {
            const client = live[c % live.length]!;
            for (let i = 0; i < perClient; i++) {
              const { version } = await client.push({
                name,
                bump: "patch",
                files: [{ path: "weights.bin", source: randomBytes(2048) }],
              });
              pushed.push(version.version);
              await client.setAlias(name, "production", version.version, {
                reason: `client ${c} round ${i}`,
              });
            }
          }),
        );
        expect(pushed).toHaveLength(200);
        expect(new Set(pushed).size).toBe(200);

        const first = live[0]!;
        const versions = (await collectAll(allPages((p) => first.listVersions(name, p)))).map(
          (v) => v.version,
        );
        expect(new Set(versions).size).toBe(200);
        expect([...versions].sort()).toEqual([...pushed].sort());

        // Every move recorded once, in one chain: each event moves the alias from where the previous one left it.
        const history = (await collectAll(
          allPages((p) => first.aliasHistory(name, { ...p, alias: "production" })),
        )) as AliasEvent[];
        const moves = [...history].sort((a, b) => a.id - b.id);
        expect(moves).toHaveLength(200);
        expect(moves.map((m) => m.to).sort()).toEqual([...pushed].sort());
        for (let i = 0; i < moves.length; i++) expect(moves[i]!.from).toBe(i === 0 ? null : moves[i - 1]!.to);
        const audit = (await collectAll(
          allPages((p) => first.audit({ ...p, artifact: name })),
        )) as AuditEvent[];
        const aliasAudit = audit.filter(
          (e) => e.action.startsWith("alias.") && e.target === `${name}@production`,
        );
        expect(aliasAudit).toHaveLength(200);
        expect(audit.filter((e) => e.action.startsWith("version.")).length).toBeGreaterThanOrEqual(200);

        // Every server answers the same.
        const last = moves.at(-1)!.to;
        for (const client of live) {
          expect((await client.resolve(`${name}@production`)).version).toBe(last);
          const seen = (await collectAll(allPages((p) => client.listVersions(name, p)))).map(
            (v) => v.version,
          );
          expect(seen.sort()).toEqual([...versions].sort());
        }
      }, 240_000);

      it("a server killed with SIGKILL mid-push: nothing partial is visible, and the retry through another server completes", async () => {
        const [victim, other] = servers.filter(
          (s) => s.child.exitCode === null && s.child.signalCode === null,
        );
        const name = "killed-mid-push";
        const bytes = randomBytes(24 * MiB);
        const doomed = new CairnClient({ url: victim!.url, packBytes: 2 * MiB, retries: 0 });
        let killed = false;
        const attempt = doomed.push({
          name,
          version: "1.0.0",
          files: [{ path: "model.bin", source: bytes }],
          onProgress: (p) => {
            if (!killed && p.bytesSent >= 4 * MiB) {
              killed = true;
              victim!.child.kill("SIGKILL");
            }
          },
        });
        await expect(attempt).rejects.toThrow();
        expect(killed).toBe(true);
        await victim!.exited;

        const survivor = new CairnClient({ url: other!.url });
        await expect(survivor.getArtifact(name)).rejects.toMatchObject({ code: "NOT_FOUND" });
        const { version } = await survivor.push({
          name,
          version: "1.0.0",
          files: [{ path: "model.bin", source: bytes }],
        });
        expect(version.version).toBe("1.0.0");
        const out = await mkdtemp(join(dir, "pull-"));
        await survivor.pull(`${name}@1.0.0`, out, { cache: false });
        expect((await readFile(join(out, "model.bin"))).equals(bytes)).toBe(true);
        // A replacement server joins and sees it.
        const replacement = await startServer();
        expect((await new CairnClient({ url: replacement.url }).resolve(`${name}@1.0.0`)).files).toHaveLength(
          1,
        );
      }, 240_000);

      it("garbage collection in another process while the servers take pushes: verify passes, every version pulls byte-identical", async () => {
        const live = clients();
        const name = "gc-race";
        // Garbage for the collector: a push that ends without a version leaves chunks nobody uses.
        const base = randomBytes(6 * MiB);
        const expected = new Map<string, Buffer>();
        let pushing = true;
        let collections = 0;
        const collector = (async () => {
          while (pushing) {
            await cli("gc");
            collections++;
          }
        })();
        try {
          await Promise.all(
            live.map(async (client, c) => {
              for (let i = 0; i < 4; i++) {
                // Versions share most bytes with each other, so pushes reuse chunks the collector may be judging.
                const at = ((c * 4 + i) % 20) * 256 * 1024;
                const bytes = Buffer.concat([base.subarray(0, at), randomBytes(777), base.subarray(at)]);
                const version = `${c}.${i}.0`;
                await client.push({ name, version, files: [{ path: "model.bin", source: bytes }] });
                expected.set(version, bytes);
              }
            }),
          );
        } finally {
          pushing = false;
          await collector;
        }
        expect(collections).toBeGreaterThan(0);
        await cli("gc");
        expect(await cli("verify")).toMatchObject({ ok: true, damaged: [], missingPacks: [] });
        const reader = live[0]!;
        for (const [version, bytes] of expected) {
          const out = await mkdtemp(join(dir, "pull-"));
          await reader.pull(`${name}@${version}`, out, { cache: false });
          expect((await readFile(join(out, "model.bin"))).equals(bytes), version).toBe(true);
        }
      }, 300_000);
    });
  }),
);
