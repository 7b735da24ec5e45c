/**
 * The SDK against a real server on port 0 over a temp embedded store: push then pull byte-identical, every
 * API route as a method, errors carrying the server's codes, and a pull that trusts neither its cache nor
 * the paths it writes.
 */
import { createHash, randomFillSync } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ChunkRef, chunkBuffer, FRAME_HEADER_SIZE, Registry } from "@cairn/core";
import { allPages, CairnClient, CairnError, type ChunkFileHints, chunkFile, RemoteError } from "@cairn/sdk";
import { buildApp, type CairnApp } from "@cairn/server";
import {
  type ChunkStore,
  chunkStream,
  type EmbeddedStore,
  mintToken,
  openEmbeddedStore,
} from "@cairn/storage";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

const MiB = 1024 * 1024;

let dir: string;
let store: EmbeddedStore;
let app: CairnApp;
let url: string;
let client: CairnClient;

function randomBytes(size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let at = 0; at < size; at += 65536) randomFillSync(out, at, Math.min(65536, size - at));
  return out;
}
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/**
 * The chunks of `file` that none of `held` has, each once, and their bytes: what a push of `file` must send
 * to a server holding `held`. Counted from the chunk lists, not guessed: content-defined cuts put a change in
 * a chunk or two, but a cut forced by the largest chunk size now and then carries it several chunks further.
 */
function toSend(file: Uint8Array, ...held: Uint8Array[]): { chunks: number; bytes: number } {
  const have = new Set(held.flatMap((bytes) => chunkBuffer(bytes).map((chunk) => chunk.hash)));
  const lacking = new Map(chunkBuffer(file).map((chunk) => [chunk.hash, chunk.length]));
  for (const hash of have) lacking.delete(hash);
  let bytes = 0;
  for (const length of lacking.values()) bytes += length;
  return { chunks: lacking.size, bytes };
}

/** What a push reports having sent, as `toSend` expects it: the frames' bytes, each with its header. */
const sent = (pushed: { sentChunks: number; sentBytes: number }) => ({
  chunks: pushed.sentChunks,
  bytes: pushed.sentBytes - pushed.sentChunks * FRAME_HEADER_SIZE,
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(CairnError);
    return (error as CairnError).code;
  }
  throw new Error("expected a failure");
}

const weights = randomBytes(5 * MiB + 123);
const config = Buffer.from('{"layers": 4}\n');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cairn-sdk-"));
  store = await openEmbeddedStore(join(dir, ".cairn"));
  app = buildApp({ store });
  url = await app.listen({ port: 0, host: "127.0.0.1" });
  client = new CairnClient({ url, token: "" });
  await mkdir(join(dir, "src/bin"), { recursive: true });
  await writeFile(join(dir, "src/weights.bin"), weights);
  await writeFile(join(dir, "src/bin/run.sh"), "#!/bin/sh\necho hi\n");
  await chmod(join(dir, "src/bin/run.sh"), 0o755);
});
afterAll(async () => {
  await app?.close();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("push and pull", () => {
  it("pushes files from disk and memory, and pulls them back byte-identical with their modes", async () => {
    const pushed = await client.push({
      name: "classifier",
      files: [
        { path: "weights.bin", source: join(dir, "src/weights.bin") },
        { path: "bin/run.sh", source: join(dir, "src/bin/run.sh") },
        { path: "config.json", source: config },
      ],
      params: { lr: 0.01, optimizer: { name: "adam" } },
      metrics: { accuracy: 0.9, loss: Number.NaN, drift: Number.NEGATIVE_INFINITY },
      tags: { team: "nlp" },
      notes: "first",
      aliases: ["production"],
    });
    expect(pushed.version).toMatchObject({
      name: "classifier",
      version: "0.1.0",
      seq: 1,
      aliases: ["production"],
      params: { lr: 0.01, optimizer: { name: "adam" } },
      tags: { team: "nlp" },
    });
    expect(pushed.version.metrics.loss).toBeNaN();
    expect(pushed.version.metrics.drift).toBe(Number.NEGATIVE_INFINITY);
    expect(pushed.version.files.map((f) => [f.path, f.mode])).toEqual([
      ["bin/run.sh", "0755"],
      ["config.json", "0644"],
      ["weights.bin", "0644"],
    ]);
    expect(pushed.sentChunks).toBe(pushed.chunks);

    const out = join(dir, "pulled");
    const pulled = await client.pull("classifier@production", out, { cache: join(dir, "cache") });
    expect(pulled).toMatchObject({ files: 3, fetchedChunks: pushed.chunks });
    expect((await readFile(join(out, "weights.bin"))).equals(weights)).toBe(true);
    expect((await readFile(join(out, "config.json"))).equals(config)).toBe(true);
    expect((await stat(join(out, "bin/run.sh"))).mode & 0o777).toBe(0o755);
    // No temporary file is left behind.
    expect((await readdir(out)).sort()).toEqual(["bin", "config.json", "weights.bin"]);

    // The same version again: everything is in the cache.
    const again = await client.pull("classifier@0.1.0", join(dir, "pulled-again"), {
      cache: join(dir, "cache"),
    });
    expect(again.fetchedChunks).toBe(0);
    const plain = await client.pull("classifier#1", join(dir, "pulled-plain"), { cache: false });
    expect((await readFile(join(dir, "pulled-plain/weights.bin"))).equals(weights)).toBe(true);
    expect(plain.fetchedBytes).toBe(pulled.bytes);
  });

  it("a second version sends only what changed; a chunker can be passed in (the CLI's native one)", async () => {
    const v2 = Buffer.from(weights);
    randomFillSync(v2, 2 * MiB, 50_000);
    const fast = new CairnClient({ url, chunker: (source) => chunkStream(source) });
    const pushed = await fast.push({
      name: "classifier",
      files: [
        { path: "weights.bin", source: v2 },
        { path: "config.json", source: config },
      ],
      metrics: { accuracy: 0.93 },
    });
    expect(pushed.version.version).toBe("0.2.0");
    // The changed region, and the chunks on either side of it until the cuts fall in step again: no more.
    const changed = toSend(v2, weights, config);
    expect(changed.bytes).toBeGreaterThan(50_000);
    expect(changed.bytes).toBeLessThan(v2.length / 4);
    expect(sent(pushed)).toEqual(changed);
    const out = join(dir, "v2");
    const pulled = await client.pull("classifier@0.2.0", out, { cache: join(dir, "cache") });
    expect(pulled.fetchedChunks).toBe(pushed.sentChunks);
    expect(sha256(await readFile(join(out, "weights.bin")))).toBe(sha256(v2));
  });

  it("a damaged chunk in the cache is found, dropped and fetched again", async () => {
    const cache = join(dir, "cache");
    const list = await (await fetch(`${url}/api/v1/contents/${sha256(weights)}/chunks`)).json();
    const hash: string = list.chunks[2].hash;
    const someChunk = join(cache, "chunks", hash.slice(0, 2), hash);
    const bytes = await readFile(someChunk);
    bytes[0] = (bytes[0]! + 1) & 0xff;
    await writeFile(someChunk, bytes);
    const out = join(dir, "repaired");
    await client.pull("classifier@0.1.0", out, { cache });
    expect((await readFile(join(out, "weights.bin"))).equals(weights)).toBe(true);
    expect((await readFile(someChunk)).equals(bytes)).toBe(false);
  });

  it("never writes outside the folder, even through a symlink in it", async () => {
    const out = join(dir, "trap");
    await mkdir(join(dir, "elsewhere"), { recursive: true });
    await mkdir(out, { recursive: true });
    await symlink(join(dir, "elsewhere"), join(out, "bin"));
    expect(await codeOf(client.pull("classifier@0.1.0", out, { cache: join(dir, "cache") }))).toBe("INVALID");
    expect(await readdir(join(dir, "elsewhere"))).toEqual([]);
  });

  it("refuses bad input before sending anything", async () => {
    expect(await codeOf(client.push({ name: "x", files: [{ path: "../up.bin", source: config }] }))).toBe(
      "INVALID",
    );
    expect(await codeOf(client.push({ name: "x", files: [] }))).toBe("INVALID");
    expect(await codeOf(client.push({ name: "x", files: [{ path: "a", source: join(dir, "nope") }] }))).toBe(
      "INVALID",
    );
    expect((await client.listArtifacts()).items.map((a) => a.name)).not.toContain("x");
  });
});

describe("the API as methods", () => {
  it("artifacts, versions, refs and diff", async () => {
    expect((await client.listArtifacts()).items.map((a) => a.name)).toEqual(["classifier"]);
    expect(await client.getArtifact("classifier")).toMatchObject({ versionCount: 2, latestVersion: "0.2.0" });
    const versions = await client.listVersions("classifier", { limit: 1 });
    expect(versions.items.map((v) => v.version)).toEqual(["0.1.0"]);
    expect(versions.items[0]!.metrics.loss).toBeNaN();
    const all = [];
    for await (const v of allPages((page) => client.listVersions("classifier", page), 1)) all.push(v.version);
    expect(all).toEqual(["0.1.0", "0.2.0"]);
    expect((await client.getVersion("classifier", "0.2.0")).seq).toBe(2);
    expect((await client.resolve("classifier@latest")).version).toBe("0.2.0");
    const diff = await client.diff("classifier@0.1.0", "classifier@0.2.0");
    expect(diff.files).toMatchObject({ changed: ["weights.bin"], removed: ["bin/run.sh"] });
    expect(diff.metrics["loss"]!.a).toBeNaN();
    expect(diff.metrics["accuracy"]!.delta).toBeCloseTo(0.03);
    const file = await client.downloadFile("classifier", "0.1.0", "bin/run.sh");
    expect(await file.text()).toBe("#!/bin/sh\necho hi\n");
  });

  it("aliases, their history, rollback and protection", async () => {
    expect((await client.setAlias("classifier", "production", "0.2.0", { reason: "better" })).to).toBe(
      "0.2.0",
    );
    await client.setAlias("classifier", "staging", "0.2.0");
    expect((await client.listAliases("classifier")).map((a) => `${a.alias}=${a.version}`)).toEqual([
      "production=0.2.0",
      "staging=0.2.0",
    ]);
    const back = await client.rollback("classifier", "production", { reason: "regression" });
    expect(back).toMatchObject({ action: "rollback", from: "0.2.0", to: "0.1.0", reason: "regression" });
    const history = await client.aliasHistory("classifier", { alias: "production" });
    expect(history.items.map((e) => e.to)).toEqual(["0.1.0", "0.2.0", "0.1.0"]);
    expect((await client.removeAlias("classifier", "staging")).action).toBe("remove");
    expect((await client.setAliasProtection("classifier", "production", true)).protected).toBe(true);
  });

  it("tags, notes, audit, stats and tokens", async () => {
    expect((await client.tag("classifier", "0.2.0", { stage: "eval" }, ["team"])).tags).toEqual({
      stage: "eval",
    });
    expect((await client.setNotes("classifier", "0.2.0", "second")).notes).toBe("second");
    const audit = await client.audit({ artifact: "classifier", limit: 3 });
    expect(audit.items[0]!.action).toBe("version.notes");
    expect(audit.nextCursor).not.toBeNull();
    const stats = await client.stats();
    expect(stats.overall?.logicalBytes).toBeGreaterThan(stats.overall?.storedBytes ?? 0);
    expect(await client.health()).toEqual({ status: "ok" });
    // Tokens last: once one exists, the server wants one.
    const created = await client.createToken("ci", "reader");
    expect(created.token).toMatch(/^cairn_/);
    const reader = new CairnClient({ url, token: created.token });
    expect((await reader.resolve("classifier@production")).version).toBe("0.1.0");
    const refused = await reader.setAlias("classifier", "production", "0.2.0").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RemoteError);
    expect(refused).toMatchObject({ code: "FORBIDDEN", status: 403 });
    expect(await codeOf(client.resolve("classifier@production"))).toBe("UNAUTHORIZED");
  });
});

describe("errors carry the server's codes", () => {
  let admin: CairnClient;
  beforeAll(async () => {
    const { token, secretHash } = mintToken();
    await new Registry({ meta: store.meta, content: store.content, actor: "root" }).createToken(
      "admin",
      "admin",
      secretHash,
    );
    admin = new CairnClient({ url, token });
  });

  it("NOT_FOUND, CONFLICT, INVALID; an unreachable server; a wrong URL", async () => {
    expect(await codeOf(admin.resolve("classifier@9.9.9"))).toBe("NOT_FOUND");
    expect(await codeOf(admin.getArtifact("ghost"))).toBe("NOT_FOUND");
    expect(await codeOf(admin.setAlias("classifier", "production", "0.1.0"))).toBe("CONFLICT");
    expect(await codeOf(admin.resolve("not a ref!"))).toBe("INVALID");
    const existing = admin.push({
      name: "classifier",
      version: "0.1.0",
      files: [{ path: "c", source: config }],
    });
    expect(await codeOf(existing)).toBe("CONFLICT");
    const nowhere = new CairnClient({ url: "http://127.0.0.1:9", retries: 0 });
    const failure = await nowhere.resolve("a@1.0.0").catch((e: unknown) => e);
    expect(failure).toMatchObject({ status: 0, code: "INTERNAL" });
    expect(() => new CairnClient({ url: "ftp://x" })).toThrow(CairnError);
  });
});

/**
 * A writer's client (the registry has tokens by the time it is needed) whose chunker notes the hints each file
 * is chunked with.
 */
async function recordingWriter(name: string, note: (hints: ChunkFileHints | undefined) => void) {
  const { token, secretHash } = mintToken();
  const registry = new Registry({ meta: store.meta, content: store.content, actor: "root" });
  await registry.createToken(name, "writer", secretHash);
  const recording = new CairnClient({
    url,
    token,
    chunker: (source, hints) => {
      note(hints);
      return chunkFile(source, hints);
    },
  });
  return { token, recording };
}

// Last: it adds artifacts, which the listing tests above do not expect.
describe("chunking along an earlier version", () => {
  it("a big file is chunked along the same path in the last version, or in the base: same chunks", async () => {
    const given: Array<readonly ChunkRef[] | undefined> = [];
    const { token, recording } = await recordingWriter("guided-pusher", (hints) =>
      given.push(hints?.previous),
    );
    const chunksOf = async (bytes: Uint8Array): Promise<ChunkRef[]> => {
      const headers = { authorization: `Bearer ${token}` };
      return (await (await fetch(`${url}/api/v1/contents/${sha256(bytes)}/chunks`, { headers })).json())
        .chunks;
    };
    const big = randomBytes(9 * MiB);
    const files = (model: Uint8Array) => [
      { path: "model.bin", source: model },
      { path: "config.json", source: config },
    ];
    await recording.push({ name: "big", files: files(big) });
    expect(given).toEqual([undefined, undefined]); // a new artifact: nothing to follow

    const v2 = Buffer.from(big);
    randomFillSync(v2, 3 * MiB, 100_000);
    given.length = 0;
    const pushed = await recording.push({ name: "big", files: files(v2) });
    // The model's earlier chunk list; none for a file too small to be worth asking for.
    expect(given).toEqual([await chunksOf(big), undefined]);
    expect(await chunksOf(v2)).toEqual(chunkBuffer(v2).map(({ hash, length }) => ({ hash, length })));
    expect(sent(pushed)).toEqual(toSend(v2, big, config));
    expect(pushed.sentBytes).toBeLessThan(v2.length / 4);

    given.length = 0;
    await recording.push({ name: "big-tuned", files: files(big), base: `big@${pushed.version.version}` });
    expect(given[0]).toEqual(await chunksOf(v2));
  });

  it("a server that does not say it names files is given every file's sha256 by the client", async () => {
    // A server from before files could be left to it to name: its upload sessions do not say `namesFiles`.
    const older = buildApp({ store });
    older.addHook("onSend", async (request, _reply, payload) => {
      if (request.method !== "POST" || !request.url.endsWith("/uploads") || typeof payload !== "string")
        return payload;
      const { namesFiles: _, ...session } = JSON.parse(payload);
      return JSON.stringify(session);
    });
    const olderUrl = await older.listen({ port: 0, host: "127.0.0.1" });
    try {
      const { token } = await recordingWriter("older-pusher", () => {});
      const asked: Array<boolean | undefined> = [];
      const pusher = new CairnClient({
        url: olderUrl,
        token,
        chunker: (source, hints) => {
          asked.push(hints?.sha256);
          return chunkFile(source, hints);
        },
      });
      const big = randomBytes(9 * MiB);
      const pushed = await pusher.push({
        name: "to-an-older-server",
        files: [{ path: "model.bin", source: big }],
      });
      expect(asked).toEqual([undefined]);
      expect(pushed.version.files[0]!.sha256).toBe(sha256(big));
    } finally {
      await older.close();
    }
  });

  it("a new large file is hashed once, by the server as it arrives, even after another file in the push", async () => {
    const asked: Array<boolean | undefined> = [];
    const { recording } = await recordingWriter("naming-pusher", (hints) => asked.push(hints?.sha256));
    const readBack = vi.spyOn(store.content as ChunkStore, "sha256Of");
    try {
      const big = randomBytes(9 * MiB);
      const files = [
        { path: "a-config.json", source: config }, // first: the model's chunks do not begin the session
        { path: "model.bin", source: big },
      ];
      const pushed = await recording.push({ name: "named-by-server", files });
      // The config hashed here; the model left to the server, which named it from what arrived.
      expect(asked).toEqual([undefined, false]);
      expect(pushed.version.files.map((f) => [f.path, f.sha256])).toEqual([
        ["a-config.json", sha256(config)],
        ["model.bin", sha256(big)],
      ]);
      expect(readBack).not.toHaveBeenCalled();
      // The same file under a new name: nothing to send, and the server knows it by its chunks.
      const again = await recording.push({ name: "named-again", files });
      expect(again.sentChunks).toBe(0);
      expect(again.version.files[1]!.sha256).toBe(sha256(big));
      expect(readBack).not.toHaveBeenCalled();
      const pulled = await recording.pull("named-again@0.1.0", join(dir, "named-again"), { cache: false });
      expect(pulled.files).toBe(2);
      expect(sha256(await readFile(join(dir, "named-again/model.bin")))).toBe(sha256(big));
    } finally {
      readBack.mockRestore();
    }
  });
});
