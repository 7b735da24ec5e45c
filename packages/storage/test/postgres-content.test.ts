/**
 * The chunk store over the PostgreSQL chunk index (and a local blob folder), as `openStore` opens it for
 * CAIRN_DATABASE_URL: the content contract, then garbage collection on one connection racing pushes on others.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "@cairn/core";
import {
  type ChunkStore,
  collectGarbage,
  EMBEDDED_BLOBS,
  openStore,
  PACK_PREFIX,
  rebuildChunkIndex,
  type Store,
  verifyStore,
} from "@cairn/storage";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { collect, pieces } from "./contract/blob-contract.js";
import { packFileHarm, runContentContract } from "./contract/content-contract.js";
import { describePostgres } from "./helpers/postgres.js";
import { type LocalS3, startS3 } from "./helpers/s3-server.js";

const MiB = 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

await describePostgres("content", (db) => {
  const storeIn = (home: string) => openStore({ home, databaseUrl: db.url });

  runContentContract("chunk store (fs blobs, PostgreSQL chunk index)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cairn-pg-content-"));
    const home = join(dir, ".cairn");
    const opened: Store[] = [];
    const stores: ChunkStore[] = [];
    const chunkStore = async () => {
      const store = await storeIn(home);
      opened.push(store);
      stores.push(store.content);
      return store.content;
    };
    const first = await chunkStore();
    const packs = async () => {
      const found: Array<{ key: string; size: number }> = [];
      for await (const blob of first.blobs.list(PACK_PREFIX)) found.push(blob);
      return found;
    };
    const packPath = (key: string) => join(home, EMBEDDED_BLOBS, ...key.split("/"));
    return {
      content: first,
      reopen: chunkStore,
      storedBytes: async () => (await packs()).reduce((n, p) => n + p.size, 0),
      objectCount: async () => (await packs()).length,
      ...packFileHarm(first.index, packPath),
      async cleanup() {
        for (const store of stores) await store.close();
        for (const store of opened) await store.close();
        await rm(dir, { recursive: true, force: true });
        await db.reset();
      },
    };
  });

  describe("garbage collection on PostgreSQL racing pushes from other connections", () => {
    let dir: string;
    let home: string;
    const opened: Store[] = [];
    const connect = async () => {
      const store = await storeIn(home);
      opened.push(store);
      return store;
    };
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), "cairn-pg-gc-"));
      home = join(dir, ".cairn");
    });
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
      await rm(dir, { recursive: true, force: true });
      await db.reset();
    });

    it("versions pushed while another connection collects garbage in a loop all verify and read back", async () => {
      // Garbage for the collector to find: a file whose push ended without a version.
      const leaver = await connect();
      const garbage = randomBytes(3 * MiB);
      await leaver.content.write(pieces(garbage, [MiB]));
      await leaver.content.flush();
      await leaver.close();

      const collector = await connect();
      let collecting = true;
      let collections = 0;
      const loop = (async () => {
        while (collecting) {
          await collectGarbage(collector.content);
          collections++;
        }
      })();
      const expected = new Map<string, string>();
      const pushers = await Promise.all([connect(), connect()]);
      try {
        for (let round = 0; round < 4; round++) {
          await Promise.all(
            pushers.map(async (pusher, p) => {
              // Each version shares most of its bytes with the garbage, so pushes reuse chunks GC wants gone.
              const at = (round * 2 + p + 1) * 256 * 1024;
              const bytes = Buffer.concat([garbage.subarray(0, at), randomBytes(500), garbage.subarray(at)]);
              const stored = await pusher.content.write(pieces(bytes, [MiB]));
              await pusher.content.flush();
              const registry = new Registry({ meta: pusher.meta, content: pusher.content, actor: `p${p}` });
              const version = `${round}.${p}.0`;
              await registry.publishVersion({
                name: "model",
                version,
                files: [{ path: "model.bin", mode: 0o644, ...stored }],
              });
              expected.set(version, sha256(bytes));
            }),
          );
        }
      } finally {
        collecting = false;
        await loop;
      }
      expect(collections).toBeGreaterThan(0);
      // Once every push has ended, a last collection removes what nothing uses, and the versions survive it.
      for (const pusher of pushers) await pusher.close();
      await collectGarbage(collector.content);
      const report = await verifyStore(collector.content);
      expect(report).toMatchObject({
        damagedChunks: 0,
        missingPacks: [],
        damagedFiles: [],
        incompleteFiles: [],
      });
      const versions = await collector.meta.listVersions("model");
      expect(versions.map((v) => v.version).sort()).toEqual([...expected.keys()].sort());
      for (const summary of versions) {
        const file = (await collector.meta.getVersion("model", summary.version))!.files[0]!;
        expect(sha256(await collect(collector.content.read(file)))).toBe(expected.get(summary.version));
      }
    });

    it("openStore with a database URL keeps metadata in PostgreSQL and packs in the store folder", async () => {
      const store = await connect();
      expect(store.meta.kind).toBe("postgres");
      expect(store.home).toBe(home);
      const stored = await store.content.write(pieces(randomBytes(1000)));
      await store.content.flush();
      const packs = await db.admin.query<{ key: string }>("SELECT key FROM packs");
      expect(packs.rows).toHaveLength(1);
      expect((await store.blobs.head(packs.rows[0]!.key))?.size).toBeGreaterThan(1000);
      expect(await store.content.has(stored.sha256)).toBe(true);
    });

    describe("with S3 blobs", () => {
      let s3: LocalS3;
      const saved = { ...process.env };
      beforeAll(async () => {
        s3 = await startS3();
        // As in a deployment: the S3 driver reads its endpoint, and the SDK its credentials, from the environment.
        const { CAIRN_BLOB_URL: _unused, ...env } = s3.env("");
        Object.assign(process.env, env);
      });
      afterAll(async () => {
        process.env = saved;
        await s3.close();
      });

      it("PostgreSQL and S3 together need no store folder: what one server pushes, another reads", async () => {
        const config = { databaseUrl: db.url, blobUrl: `s3://${s3.bucket}/pg` };
        const first = await openStore(config);
        opened.push(first);
        expect([first.home, first.meta.kind, first.blobs.kind]).toEqual([null, "postgres", "s3"]);
        const bytes = randomBytes(3 * MiB);
        const stored = await first.content.write(pieces(bytes, [MiB]));
        await first.content.flush();
        await new Registry({ meta: first.meta, content: first.content, actor: "ada" }).publishVersion({
          name: "model",
          files: [{ path: "model.bin", mode: 0o644, ...stored }],
          aliases: ["production"],
        });
        const second = await openStore(config);
        opened.push(second);
        const version = await new Registry({
          meta: second.meta,
          content: second.content,
          actor: "bo",
        }).resolve("model@production");
        expect((await collect(second.content.read(version.files[0]!))).equals(bytes)).toBe(true);
        expect(await verifyStore(second.content)).toMatchObject({ damagedChunks: 0, missingPacks: [] });
      });
    });

    it("rebuilds the chunk index from the packs alone, keeping every version readable", async () => {
      const store = await connect();
      const bytes = randomBytes(2 * MiB);
      const stored = await store.content.write(pieces(bytes, [MiB]));
      await store.content.flush();
      await new Registry({ meta: store.meta, content: store.content, actor: "ada" }).publishVersion({
        name: "model",
        files: [{ path: "model.bin", mode: 0o644, ...stored }],
      });
      const before = await store.content.index.locateChunks(
        (await store.content.index.getContent(stored.sha256))!.chunks.map((c) => c.hash),
      );
      const rebuilt = await rebuildChunkIndex(store.content);
      expect(rebuilt).toMatchObject({ packs: 1, chunks: before.size, skipped: [] });
      const after = await store.content.index.locateChunks([...before.keys()]);
      expect(new Map([...after].map(([h, l]) => [h, { ...l }]))).toEqual(before);
      expect((await collect(store.content.read(stored))).equals(bytes)).toBe(true);
    });
  });
});
