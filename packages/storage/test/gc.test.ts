/**
 * Garbage collection running while pushes run. A push may reuse chunks that no version refers to any more
 * (garbage), may start after a collection has looked at who is pushing, and may have a pack on disk that is not
 * indexed yet; a pull may be reading a pack that a collection is rewriting. Each race is first forced at its
 * exact point (by pausing one party inside a store call), then all of them are left to chance with a
 * collector looping in another process.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type BlobStore,
  type ByteSource,
  type ChunkIndex,
  type ChunkRef,
  Registry,
  type StoredContent,
} from "@cairn/core";
import {
  ChunkStore,
  collectGarbage,
  type EmbeddedStore,
  type FsBlobStore,
  openEmbeddedStore,
  verifyStore,
} from "@cairn/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collect, pieces } from "./contract/blob-contract.js";
import { startNode } from "./helpers/processes.js";

const GC_LOOP = fileURLToPath(new URL("./fixtures/gc-loop.mjs", import.meta.url));
const MiB = 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** `target` with some methods replaced; every other one still works on `target` itself. */
function intercept<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, name) {
      if (Object.hasOwn(overrides, name)) return overrides[name as keyof T];
      const value: unknown = Reflect.get(object, name, object);
      return typeof value === "function" ? value.bind(object) : value;
    },
  });
}

/** A promise and the function that settles it: a gate one party waits at until the test opens it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** `bytes` with `extra` inserted at `at`: a new version sharing all but the chunks around the change. */
const edit = (bytes: Buffer, at: number, extra: Buffer) =>
  Buffer.concat([bytes.subarray(0, at), extra, bytes.subarray(at)]);

describe("garbage collection racing pushes", () => {
  let dir: string;
  let home: string;
  const opened: EmbeddedStore[] = [];
  /** Another connection to the store, with a session of its own: what another process would have. */
  const connect = async () => {
    const store = await openEmbeddedStore(home);
    opened.push(store);
    return store;
  };
  const registry = (store: EmbeddedStore) =>
    new Registry({ meta: store.meta, content: store.content, actor: "tester" });

  /** Stores `bytes` and ends the writer's session without a version: its chunks are garbage now. */
  async function leaveGarbage(bytes: Buffer): Promise<ChunkRef[]> {
    const writer = await connect();
    const stored = await writer.content.write(pieces(bytes, [MiB]));
    await writer.content.flush();
    const { chunks } = (await writer.meta.chunkIndex().getContent(stored.sha256))!;
    await writer.close();
    return chunks;
  }

  /** The chunks among `dropped` that `kept` has none of: what a collection frees once only `kept` is live. */
  async function chunksOnlyIn(dropped: ChunkRef[], kept: StoredContent): Promise<number> {
    const live = (await (await connect()).meta.chunkIndex().getContent(kept.sha256))!;
    const keptHashes = new Set(live.chunks.map((chunk) => chunk.hash));
    return new Set(dropped.map((chunk) => chunk.hash).filter((hash) => !keptHashes.has(hash))).size;
  }

  /** Every version reads back as the bytes it was pushed with, and a full verify finds nothing wrong. */
  async function expectIntact(expected: Map<string, string>): Promise<void> {
    const reader = await connect();
    const report = await verifyStore(reader.content);
    expect(report).toMatchObject({
      damagedChunks: 0,
      missingPacks: [],
      damagedFiles: [],
      incompleteFiles: [],
    });
    const versions = await reader.meta.listVersions("model");
    expect(versions.map((v) => v.version).sort()).toEqual([...expected.keys()].sort());
    for (const summary of versions) {
      const version = (await reader.meta.getVersion("model", summary.version))!;
      const file = version.files[0]!;
      const bytes = await collect(reader.content.read(file, { label: `model@${version.version}` }));
      expect(sha256(bytes)).toBe(expected.get(version.version));
    }
  }

  /** Ends a push: records its file as model@0.1.0, closes it, and checks that the store holds exactly that. */
  async function publishAndCheck(
    store: EmbeddedStore,
    pusher: ChunkStore,
    stored: StoredContent,
    model: Buffer,
  ): Promise<void> {
    await pusher.flush();
    await registry(store).publishVersion({
      name: "model",
      files: [{ path: "model.bin", mode: 0o644, ...stored }],
    });
    await pusher.close();
    await expectIntact(new Map([["0.1.0", sha256(model)]]));
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "cairn-gc-"));
    home = join(dir, ".cairn");
  });
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    { when: "after its flush", flushFirst: true },
    { when: "between its write and its flush", flushFirst: false },
  ])(
    "a push reusing garbage chunks keeps them through a collection $when, and its version verifies",
    async ({ flushFirst }) => {
      const garbage = randomBytes(4 * MiB);
      const garbageChunks = await leaveGarbage(garbage);
      const collector = await connect();
      const pusher = await connect();

      const model = edit(garbage, MiB, randomBytes(1000));
      const stored = await pusher.content.write(pieces(model, [MiB]));
      if (flushFirst) await pusher.content.flush();
      const during = await collectGarbage(collector.content);
      if (!flushFirst) await pusher.content.flush();
      await registry(pusher).publishVersion({
        name: "model",
        files: [{ path: "model.bin", mode: 0o644, ...stored }],
      });
      await pusher.close();

      // The garbage file's record went. Its chunks lie in a pack the push claimed (it reuses most of them): the
      // chunks the edit replaced go only once the push has ended, by the next collection. Content-defined
      // chunking puts the change in a chunk or two, though a cut forced by the largest chunk size can carry it
      // a few chunks on before the cuts fall where they did, so they are counted, not guessed.
      expect(during.contentsRemoved).toBe(1);
      expect(during.chunksRemoved).toBe(0);
      const replaced = await chunksOnlyIn(garbageChunks, stored);
      expect(replaced).toBeGreaterThanOrEqual(1);
      expect(replaced).toBeLessThan(garbageChunks.length / 2);
      const after = await collectGarbage(collector.content);
      expect(after.chunksRemoved).toBe(replaced);
      await expectIntact(new Map([["0.1.0", sha256(model)]]));
    },
  );

  it("a push that starts after a collection listed the sessions keeps its claims through the sweep", async () => {
    const garbage = randomBytes(4 * MiB);
    await leaveGarbage(garbage);
    const model = edit(garbage, 2 * MiB, randomBytes(1000));
    const pusher = await connect();
    let stored: StoredContent | undefined;

    // The collector has judged the sessions it saw (none alive but its own) when the push begins and claims
    // the garbage's chunks; only then does it sweep.
    const collector = await connect();
    const index: ChunkIndex = collector.meta.chunkIndex();
    const racing = new ChunkStore(
      collector.blobs,
      intercept(index, {
        sweep: async (options) => {
          stored = await pusher.content.write(pieces(model, [MiB]));
          return index.sweep(options);
        },
      }),
    );
    await collectGarbage(racing);
    await racing.close();

    await pusher.content.flush();
    await registry(pusher).publishVersion({
      name: "model",
      files: [{ path: "model.bin", mode: 0o644, ...stored! }],
    });
    await expectIntact(new Map([["0.1.0", sha256(model)]]));
  });

  it("a pack a push has written but not yet indexed is no orphan, though the push began after the collection looked", async () => {
    const model = randomBytes(3 * MiB);
    const indexing = gate();
    const renamed = gate();
    const pusherStore = await connect();
    // The push's pack is durable (renamed into place) and the push stops right before indexing it.
    const pusher = new ChunkStore(
      intercept<BlobStore>(pusherStore.blobs, {
        put: async (key, body) => {
          await pusherStore.blobs.put(key, body);
          renamed.open();
          await indexing.opened;
        },
      }),
      pusherStore.meta.chunkIndex(),
    );
    let flushed: Promise<void> | undefined;
    let stored: StoredContent | undefined;

    const collector = await connect();
    const racing = new ChunkStore(
      intercept<BlobStore>(collector.blobs, {
        list: (prefix) => {
          // The collection has taken its look at the sessions and swept; now, just before it lists the pack
          // objects, a push starts, writes its pack and is about to index it.
          return (async function* () {
            stored = await pusher.write(pieces(model, [MiB]));
            flushed = pusher.flush();
            await renamed.opened;
            yield* collector.blobs.list(prefix);
          })();
        },
      }),
      collector.meta.chunkIndex(),
    );
    const report = await collectGarbage(racing);
    await racing.close();
    expect(report.orphanPacksRemoved).toBe(0);

    indexing.open();
    await flushed;
    await registry(pusherStore).publishVersion({
      name: "model",
      files: [{ path: "model.bin", mode: 0o644, ...stored! }],
    });
    await pusher.close();
    await expectIntact(new Map([["0.1.0", sha256(model)]]));
  });

  it("a pack a push is still writing survives the collection's sweep of half-written objects", async () => {
    const model = randomBytes(44 * MiB);
    const more = gate();
    const writing = gate();
    const pusherStore = await connect();
    // The push streams its first pack into a temporary object, then waits for the rest of its file.
    const pusher = new ChunkStore(
      intercept<BlobStore>(pusherStore.blobs, {
        put: (key, body) =>
          pusherStore.blobs.put(
            key,
            (async function* () {
              for await (const piece of body as ByteSource) {
                yield piece;
                writing.open();
              }
            })(),
          ),
      }),
      pusherStore.meta.chunkIndex(),
    );
    // Enough for the chunker (which reads 16 MiB ahead) to hand out a first batch of chunks to store.
    async function* source(): AsyncGenerator<Uint8Array> {
      yield model.subarray(0, 40 * MiB);
      await more.opened;
      yield model.subarray(40 * MiB);
    }
    let written: Promise<StoredContent> | undefined;

    const collector = await connect();
    const index: ChunkIndex = collector.meta.chunkIndex();
    let looks = 0;
    const racing = new ChunkStore(
      collector.blobs,
      intercept(index, {
        listSessions: async () => {
          const sessions = await index.listSessions();
          // Right after the collection's first look (no push alive), the push begins writing.
          if (looks++ === 0) {
            written = pusher.write(source());
            await writing.opened;
          }
          return sessions;
        },
      }),
    );
    await collectGarbage(racing);
    await racing.close();

    more.open();
    await publishAndCheck(pusherStore, pusher, await written!, model);
  });

  it("a push's new chunks, in packs it has indexed but no file of it refers to yet, survive a collection", async () => {
    const model = randomBytes(6 * MiB);
    const pusherStore = await connect();
    // Small packs: the push seals and indexes several before its file is recorded at flush. Its new chunks are
    // not claimed one by one; the packs' session protects them.
    const pusher = new ChunkStore(pusherStore.blobs, pusherStore.meta.chunkIndex(), { packSize: MiB });
    const stored = await pusher.write(pieces(model, [MiB]));
    expect((await pusherStore.meta.chunkIndex().listPacks()).length).toBeGreaterThanOrEqual(4);

    const collector = await connect();
    const report = await collectGarbage(collector.content);
    expect(report).toMatchObject({ chunksRemoved: 0, packsRemoved: 0, orphanPacksRemoved: 0 });
    await publishAndCheck(pusherStore, pusher, stored, model);
  });

  it("a push whose chunks another push indexed first keeps them, though that push ends without a version", async () => {
    const model = randomBytes(3 * MiB);
    const laterStore = await connect();
    const firstStore = await connect();
    const collector = await connect();
    const index: ChunkIndex = laterStore.meta.chunkIndex();
    let during: Awaited<ReturnType<typeof collectGarbage>> | undefined;
    // The later push holds the chunks in its open pack while the first indexes the same chunks in a pack of its
    // own, then ends (its file is garbage). The later pack then adds none of them to the index: the later push
    // must claim them, for a collection may run before its file is recorded.
    const later = new ChunkStore(
      laterStore.blobs,
      intercept(index, {
        addPack: async (...args) => {
          await index.addPack(...args);
          during = await collectGarbage(collector.content);
        },
      }),
    );
    const stored = await later.write(pieces(model, [MiB]));
    await firstStore.content.write(pieces(model, [MiB]));
    await firstStore.content.flush();
    await firstStore.close();
    await publishAndCheck(laterStore, later, stored, model);
    expect(during).toMatchObject({ contentsRemoved: 1, chunksRemoved: 0 }); // the first push's file went
  });

  it("a pull reading a pack that a collection rewrites under it finds the chunks in their new pack", async () => {
    const model = randomBytes(MiB);
    const garbage = randomBytes(3 * MiB);
    const pusher = await connect();
    // One pack, three quarters garbage: the collection copies the live quarter to a new pack and deletes it.
    await pusher.content.write(pieces(garbage));
    const stored = await pusher.content.write(pieces(model));
    await pusher.content.flush();
    await registry(pusher).publishVersion({
      name: "model",
      files: [{ path: "model.bin", mode: 0o644, ...stored }],
    });
    await pusher.close();

    const collector = await connect();
    const readerStore = await connect();
    let rewritten = 0;
    // The reader has located its chunks in the old pack; the collection runs before it reads them (by either
    // of the local blob store's read paths: a stream, or straight into the reader's buffer).
    const collectFirst = async (): Promise<void> => {
      if (rewritten === 0) rewritten = (await collectGarbage(collector.content)).packsRewritten;
    };
    const blobs = readerStore.blobs as FsBlobStore;
    const reader = new ChunkStore(
      intercept<FsBlobStore>(blobs, {
        get: (key, range) =>
          (async function* () {
            await collectFirst();
            yield* blobs.get(key, range);
          })(),
        readInto: async (key, offset, target) => {
          await collectFirst();
          return blobs.readInto(key, offset, target);
        },
      }),
      readerStore.meta.chunkIndex(),
    );
    expect((await collect(reader.read(stored, { label: "model@0.1.0: model.bin" }))).equals(model)).toBe(
      true,
    );
    expect(rewritten).toBe(1);
    await reader.close();
    await expectIntact(new Map([["0.1.0", sha256(model)]]));
  });

  it("versions pushed while another process collects garbage in a loop all verify and read back byte for byte", async () => {
    // Each round leaves a file as garbage, then pushes an edit of it (and of the previous version): the push
    // reuses chunks a collection may be deleting at that very moment.
    const gc = startNode(GC_LOOP, [home]);
    const rounds: Array<{ startedAt: number }> = [];
    const nextRound = async () => {
      const line = JSON.parse(await gc.nextLine()) as { round: number; startedAt: number };
      rounds.push(line);
      return line;
    };
    /** Waits for a whole collection that began after now: one surely ran between two steps of the test. */
    const collectionAfterNow = async () => {
      const now = Date.now();
      while ((await nextRound()).startedAt <= now) {
        // An older round, finished before: wait for the next.
      }
    };
    await collectionAfterNow();

    const expected = new Map<string, string>();
    let previous = randomBytes(2 * MiB);
    for (let round = 1; round <= 12; round++) {
      const garbage = randomBytes(3 * MiB);
      await leaveGarbage(garbage);
      if (round % 2 === 0) await collectionAfterNow();
      const model = Buffer.concat([
        edit(garbage, MiB, randomBytes(500)),
        edit(previous, (round * 97_531) % previous.length, randomBytes(500)),
      ]);
      const pusher = await connect();
      const stored = await pusher.content.write(pieces(model, [MiB]));
      await pusher.content.flush();
      const version = await registry(pusher).publishVersion({
        name: "model",
        files: [{ path: "model.bin", mode: 0o644, ...stored }],
      });
      await pusher.close();
      expected.set(version.version, sha256(model));
      previous = model.subarray(0, 2 * MiB);
    }
    await collectionAfterNow();
    gc.send("stop");
    let last = JSON.parse(await gc.nextLine()) as { done?: { rounds: number; chunksRemoved: number } };
    while (!last.done) last = JSON.parse(await gc.nextLine()) as typeof last;
    expect((await gc.exited).code).toBe(0);
    // The collector did collect while the pushes ran (not just spin on an empty store).
    expect(last.done.chunksRemoved).toBeGreaterThan(0);

    await expectIntact(expected);
    // A last collection that compacts every pack leaves only what the versions use (plus the packs' tables).
    const store = await connect();
    await collectGarbage(store.content, { rewriteBelow: 1 });
    const [overall] = (await store.content.index.stats()).filter((s) => s.artifact === null);
    const packs = await store.content.index.listPacks();
    const tables = packs.reduce((n, p) => n + 44 * p.chunkCount + 32, 0);
    expect(await store.content.index.packBytes()).toBe(overall!.storedBytes + tables);
    await expectIntact(expected);
  }, 120_000);
});
