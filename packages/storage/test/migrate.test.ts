/**
 * `migrateRegistry` between drivers (SQLite + folder → PostgreSQL + folder → SQLite + folder): what only the
 * tables' order and special values hold survives — refs in the order given, metric points of one step in
 * logging order, NaN, ±Infinity and -0, binary chunk hashes — and the table list covers every column of both
 * schemas, so a later migration cannot be left behind silently.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ContentStore, Registry, RunTracker, trackingOf } from "@cairn/core";
import {
  migrateRegistry,
  openEmbeddedStore,
  openStore,
  type RegistryTables,
  type Store,
} from "@cairn/storage";
import { afterAll, expect, it } from "vitest";
import { describePostgres } from "./helpers/postgres.js";

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

const names = { from: "source", to: "destination" };

await describePostgres("migrate", (db) => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  const folder = async () => {
    const dir = await mkdtemp(join(tmpdir(), "cairn-migrate-"));
    dirs.push(dir);
    return dir;
  };

  /** Everything compared across the copies, read through the interfaces. */
  async function read(store: Store, runId: string) {
    const registry = new Registry({ meta: store.meta, content: store.content, actor: "ada" });
    const runs = new RunTracker({ registry, store: trackingOf(store.meta) });
    return {
      model: await store.meta.getVersion("model", "1.0.0"),
      run: await runs.get(runId),
      loss: (await runs.history(runId, "loss")).points,
      history: await store.meta.aliasHistory("model"),
      audit: await store.meta.listAudit({ limit: 1000 }),
      packs: await store.content.index.listPacks(),
    };
  }

  it("SQLite → PostgreSQL → SQLite keeps order, special values and hashes, and verifies each copy", async () => {
    const source = await openEmbeddedStore(join(await folder(), ".cairn"));
    const registry = new Registry({ meta: source.meta, content: source.content, actor: "ada" });
    const runs = new RunTracker({ registry, store: trackingOf(source.meta) });
    const stored = await (source.content as ContentStore).write(once(Buffer.from("weights")));
    await source.content.flush();
    const file = { path: "w.bin", size: 7, mode: 0o644, sha256: stored.sha256 };
    for (const name of ["zeta", "alpha"]) {
      await registry.publishVersion({ name, type: "dataset", version: "1.0.0", files: [file] });
    }
    await registry.publishVersion({
      name: "model",
      version: "1.0.0",
      files: [file],
      data: ["zeta@1.0.0", "alpha@1.0.0"],
      aliases: ["production"],
    });
    const run = await runs.start({ data: ["zeta@1.0.0", "alpha@1.0.0"] });
    await runs.log(run.id, {
      metrics: [
        { key: "loss", value: 3, step: 1 },
        { key: "loss", value: 1, step: 1 },
        { key: "loss", value: 2, step: 1 },
        { key: "loss", value: Number.NaN, step: 2 },
        { key: "loss", value: Number.NEGATIVE_INFINITY, step: 3 },
        { key: "loss", value: -0, step: 4 },
      ],
    });
    const original = await read(source, run.id);
    expect(original.model?.data).toEqual(["zeta@1.0.0", "alpha@1.0.0"]);
    expect(original.loss.map((p) => p.value)).toEqual([3, 1, 2, Number.NaN, Number.NEGATIVE_INFINITY, -0]);

    const team = await openStore({ home: await folder(), databaseUrl: db.url });
    const there = await migrateRegistry(source, team, names);
    expect(there.verified).toMatchObject({ ok: true, countMismatches: [], versions: { checked: 3 } });
    const onTeam = await read(team, run.id);
    expect(onTeam).toEqual(original);
    expect(Object.is(onTeam.loss[5]?.value, -0)).toBe(true);

    const back = await openEmbeddedStore(join(await folder(), ".cairn"));
    const home = await migrateRegistry(team, back, names);
    expect(home.verified).toMatchObject({ ok: true });
    expect(home.rows).toEqual(there.rows);
    expect(await read(back, run.id)).toEqual(original);

    // New rows after the copy take new ids (PostgreSQL's sequences were moved past the copied ones).
    const teamRegistry = new Registry({ meta: team.meta, content: team.content, actor: "bob" });
    const next = await teamRegistry.publishVersion({ name: "model", version: "1.1.0", files: [file] });
    expect(next.seq).toBe(2);
    await teamRegistry.setAlias("model", "production", "1.1.0");
    expect((await team.meta.aliasHistory("model")).map((e) => e.to)).toEqual(["1.0.0", "1.1.0"]);

    for (const store of [source, team, back]) await store.close();
  });

  it("copies every column of both schemas (or names what it leaves out, and why)", async () => {
    const sqlite = await openEmbeddedStore(join(await folder(), ".cairn"));
    const pg = await openStore({ home: await folder(), databaseUrl: db.url });
    try {
      // readSnapshot refuses a schema with a column the table list does not copy.
      for (const store of [sqlite, pg]) {
        const tables = (store.meta as unknown as { tables(): RegistryTables }).tables();
        await expect(tables.readSnapshot(async (s) => s.counts)).resolves.toBeDefined();
      }
    } finally {
      await sqlite.close();
      await pg.close();
    }
  });
});
