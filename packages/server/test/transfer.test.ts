/**
 * Chunk transfer routes, driven by hand: upload sessions, chunks/missing, pack uploads (checked, resumable
 * after a cut), file chunk lists, the one-request commit, and chunk downloads. Over a real embedded store in
 * a temp folder; most requests in-process, the cut upload over a real socket.
 */
import { createHash, randomFillSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CHUNK_FRAMES_TYPE, FrameReader, frameHeader, Registry } from "@cairn/core";
import { buildApp, type CairnApp } from "@cairn/server";
import {
  type ChunkStore,
  type ChunkWithData,
  chunkBuffer,
  collectGarbage,
  type EmbeddedStore,
  mintToken,
  openEmbeddedStore,
  verifyStore,
} from "@cairn/storage";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const API = "/api/v1";
const MiB = 1024 * 1024;

let dir: string;
let store: EmbeddedStore;
let app: CairnApp;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cairn-transfer-"));
  store = await openEmbeddedStore(join(dir, ".cairn"));
  app = buildApp({ store });
  await app.ready();
});
afterEach(async () => {
  await app?.close();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

function randomBytes(size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let at = 0; at < size; at += 65536) randomFillSync(out, at, Math.min(65536, size - at));
  return out;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const refs = (chunks: ChunkWithData[]) => chunks.map((c) => ({ hash: c.hash, length: c.length }));

function framed(chunks: Array<{ hash: string; data: Uint8Array }>): Buffer {
  return Buffer.concat(chunks.flatMap((c) => [frameHeader(c.hash, c.data.byteLength), c.data]));
}

const json = (method: "GET" | "POST" | "PUT" | "DELETE", url: string, payload?: object) =>
  app.inject({ method, url: `${API}${url}`, ...(payload === undefined ? {} : { payload }) });

const putPack = (session: string, n: number, body: Buffer) =>
  app.inject({
    method: "PUT",
    url: `${API}/uploads/${session}/packs/${n}`,
    headers: { "content-type": CHUNK_FRAMES_TYPE },
    payload: body,
  });

async function startUpload(): Promise<string> {
  const res = await json("POST", "/uploads");
  expect(res.statusCode).toBe(200);
  return res.json().id;
}

async function missing(session: string, hashes: string[]): Promise<string[]> {
  const res = await json("POST", `/uploads/${session}/chunks/missing`, { hashes });
  expect(res.statusCode).toBe(200);
  return res.json().missing;
}

function expectError(
  res: { statusCode: number; json(): unknown },
  status: number,
  code: string,
  message?: RegExp,
) {
  const body = res.json() as { error: { code: string; message: string } };
  expect({ status: res.statusCode, code: body.error?.code }).toEqual({ status, code });
  if (message) expect(body.error.message).toMatch(message);
}

describe("a push in requests", () => {
  it("sends only the chunks the server lacks, checks the file, commits, and the version reads back", async () => {
    const v1 = randomBytes(3 * MiB);
    const chunks = chunkBuffer(v1);
    let session = await startUpload();
    expect(
      await missing(
        session,
        chunks.map((c) => c.hash),
      ),
    ).toEqual(chunks.map((c) => c.hash));
    const put = await putPack(session, 1, framed(chunks));
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({ chunks: chunks.length, written: chunks.length, bytes: v1.length });
    const content = { sha256: sha256(v1), size: v1.length, chunks: refs(chunks) };
    const recorded = await json("POST", `/uploads/${session}/contents`, content);
    // Sent in order from pack 1: its sha256 was known as it arrived, nothing was read back.
    expect(recorded.json()).toEqual({
      sha256: content.sha256,
      size: v1.length,
      checked: true,
      readBack: false,
    });
    const commit = await json("POST", "/artifacts/model/versions", {
      upload: session,
      files: [{ path: "weights.bin", size: v1.length, sha256: content.sha256, mode: "0644" }],
      metrics: { loss: "NaN", accuracy: 0.5 },
      params: { lr: 0.1 },
      aliases: ["production"],
    });
    expect(commit.statusCode).toBe(200);
    expect(commit.json()).toMatchObject({ name: "model", version: "0.1.0", metrics: { loss: "NaN" } });
    // The commit ended the session.
    expectError(await json("POST", `/uploads/${session}/heartbeat`), 404, "NOT_FOUND");

    // Version 2 changes one region: only the chunks around it are missing.
    const v2 = Buffer.from(v1);
    randomFillSync(v2, MiB, 100_000);
    const chunks2 = chunkBuffer(v2);
    session = await startUpload();
    const lacking = await missing(
      session,
      chunks2.map((c) => c.hash),
    );
    const lackingBytes = chunks2.filter((c) => lacking.includes(c.hash)).reduce((n, c) => n + c.length, 0);
    expect(lackingBytes).toBeGreaterThanOrEqual(100_000);
    // The changed region, and the chunks on either side of it until the cuts fall in step again: exactly the
    // chunks version 1 lacks (a cut forced by the largest chunk size now and then carries a change further).
    const held = new Set(chunkBuffer(v1).map((c) => c.hash));
    expect([...lacking].sort()).toEqual(
      [...new Set(chunks2.map((c) => c.hash).filter((h) => !held.has(h)))].sort(),
    );
    expect(lackingBytes).toBeLessThan(v2.length / 4);
    const put2 = await putPack(session, 1, framed(chunks2.filter((c) => lacking.includes(c.hash))));
    expect(put2.json().written).toBe(lacking.length);
    await json("POST", `/uploads/${session}/contents`, {
      sha256: sha256(v2),
      size: v2.length,
      chunks: refs(chunks2),
    });
    const commit2 = await json("POST", "/artifacts/model/versions", {
      upload: session,
      files: [{ path: "weights.bin", size: v2.length, sha256: sha256(v2) }],
    });
    expect(commit2.json().version).toBe("0.2.0");
    const file = await json("GET", "/artifacts/model/versions/0.2.0/files/weights.bin");
    expect(file.rawPayload.equals(v2)).toBe(true);
  });

  it("an upload's claims keep GC off its chunks until the session ends", async () => {
    const bytes = randomBytes(MiB);
    const chunks = chunkBuffer(bytes);
    const session = await startUpload();
    await missing(
      session,
      chunks.map((c) => c.hash),
    );
    await putPack(session, 1, framed(chunks));
    expect((await collectGarbage(store.content)).chunksRemoved).toBe(0);
    expect(
      await missing(
        session,
        chunks.map((c) => c.hash),
      ),
    ).toEqual([]);

    expect((await json("DELETE", `/uploads/${session}`)).statusCode).toBe(200);
    expect((await collectGarbage(store.content)).chunksRemoved).toBe(chunks.length);
  });

  it("an idle session expires: NOT_FOUND, and its claims are released", async () => {
    const session = await startUpload();
    const held = (await store.content.index.listSessions()).find((s) => s.id === session)!;
    await store.content.index.touchSession({
      ...held,
      heartbeatAt: new Date(Date.now() - 100_000).toISOString(),
    });
    expectError(
      await json("POST", `/uploads/${session}/chunks/missing`, { hashes: [] }),
      404,
      "NOT_FOUND",
      /expired/,
    );
    expect((await store.content.index.listSessions()).map((s) => s.id)).not.toContain(session);
    expectError(
      await json("POST", "/uploads/00000000-0000-4000-8000-000000000000/heartbeat"),
      404,
      "NOT_FOUND",
    );
  });
});

describe("a file checked as its chunks arrive", () => {
  const threePacks = (chunks: ChunkWithData[]) => {
    const a = Math.floor(chunks.length / 3);
    const b = Math.floor((2 * chunks.length) / 3);
    return [chunks.slice(0, a), chunks.slice(a, b), chunks.slice(b)];
  };
  /** Records the file: first under a wrong sha256 (refused), then its own; the answer to the second. */
  const recordFile = async (session: string, bytes: Buffer, chunks: ChunkWithData[]) => {
    const content = { sha256: sha256(bytes), size: bytes.length, chunks: refs(chunks) };
    expectError(
      await json("POST", `/uploads/${session}/contents`, { ...content, sha256: sha256(Buffer.from("x")) }),
      400,
      "INTEGRITY",
    );
    const answer = await json("POST", `/uploads/${session}/contents`, content);
    expect(answer.statusCode).toBe(200);
    return answer.json();
  };

  it("packs in order: no read-back, and a wrong sha256, size or chunk list is still refused", async () => {
    const bytes = randomBytes(4 * MiB);
    const chunks = chunkBuffer(bytes);
    const other = chunkBuffer(randomBytes(MiB));
    const session = await startUpload();
    let n = 0;
    for (const pack of threePacks(chunks))
      expect((await putPack(session, ++n, framed(pack))).statusCode).toBe(200);
    await putPack(session, ++n, framed(other));
    const content = { sha256: sha256(bytes), size: bytes.length, chunks: refs(chunks) };
    expectError(
      await json("POST", `/uploads/${session}/contents`, { ...content, sha256: sha256(Buffer.from("x")) }),
      400,
      "INTEGRITY",
    );
    // The same bytes, but named by other chunks in another order: read back, and refused.
    const swapped = [chunks[1]!, chunks[0]!, ...chunks.slice(2)];
    expectError(
      await json("POST", `/uploads/${session}/contents`, { ...content, chunks: refs(swapped) }),
      400,
      "INTEGRITY",
    );
    // Only the first two packs' chunks: a real file (a prefix), but not this sha256.
    const prefix = chunks.slice(0, threePacks(chunks)[0]!.length + threePacks(chunks)[1]!.length);
    const prefixBytes = prefix.reduce((sum, c) => sum + c.length, 0);
    expectError(
      await json("POST", `/uploads/${session}/contents`, {
        ...content,
        size: prefixBytes,
        chunks: refs(prefix),
      }),
      400,
      "INTEGRITY",
    );
    expect((await json("POST", `/uploads/${session}/contents`, content)).json()).toMatchObject({
      checked: true,
      readBack: false,
    });
    // A file that follows another in the packs is read back to check it.
    expect(
      (
        await json("POST", `/uploads/${session}/contents`, {
          sha256: sha256(Buffer.concat(other.map((c) => c.data))),
          size: other.reduce((sum, c) => sum + c.length, 0),
          chunks: refs(other),
        })
      ).json(),
    ).toMatchObject({ checked: true, readBack: true });
    const commit = await json("POST", "/artifacts/m/versions", {
      upload: session,
      files: [{ path: "w.bin", size: bytes.length, sha256: content.sha256 }],
    });
    expect(commit.statusCode).toBe(200);
    expect((await json("GET", "/artifacts/m/versions/0.1.0/files/w.bin")).rawPayload.equals(bytes)).toBe(
      true,
    );
  });

  it("a file left for the server to name: named by what arrived, or by reading it back, never by the client", async () => {
    const first = randomBytes(2 * MiB);
    const second = randomBytes(3 * MiB);
    const [a, b] = [chunkBuffer(first), chunkBuffer(second)];
    const session = await startUpload();
    expect((await putPack(session, 1, framed(a))).statusCode).toBe(200);
    // The second file's chunks begin a pack marked as beginning a file: hashed from there on.
    const marked = await app.inject({
      method: "PUT",
      url: `${API}/uploads/${session}/packs/2?file=start`,
      headers: { "content-type": CHUNK_FRAMES_TYPE },
      payload: framed(b),
    });
    expect(marked.statusCode).toBe(200);
    const name = async (bytes: Buffer, chunks: ChunkWithData[]) => {
      const res = await json("POST", `/uploads/${session}/contents`, {
        size: bytes.length,
        chunks: refs(chunks),
      });
      expect(res.statusCode).toBe(200);
      return res.json();
    };
    const lookups = vi.spyOn((store.content as ChunkStore).index, "locateChunks");
    // Both named without a read-back: the first from the session's first pack, the second from its mark; and
    // their chunks not looked up, as they came in packs already stored.
    expect(await name(second, b)).toEqual({
      sha256: sha256(second),
      size: second.length,
      checked: true,
      readBack: false,
    });
    expect(await name(first, a)).toEqual({
      sha256: sha256(first),
      size: first.length,
      checked: true,
      readBack: false,
    });
    expect(lookups).not.toHaveBeenCalled();
    // A file the arrivals do not make (the second file's chunks in another order) is looked up, read back, and
    // named by what its bytes are.
    const swapped = [b[1]!, b[0]!, ...b.slice(2)];
    const swappedBytes = Buffer.concat(swapped.map((c) => c.data));
    expect(await name(swappedBytes, swapped)).toEqual({
      sha256: sha256(swappedBytes),
      size: second.length,
      checked: true,
      readBack: true,
    });
    expect(lookups).toHaveBeenCalled();
    lookups.mockRestore();
    // In another session, the same file given only as its chunks: known by them, neither checked nor read back.
    const later = await startUpload();
    const again = await json("POST", `/uploads/${later}/contents`, { size: second.length, chunks: refs(b) });
    expect(again.json()).toEqual({
      sha256: sha256(second),
      size: second.length,
      checked: false,
      readBack: false,
    });
    // Chunks the server does not hold, or lengths that do not add up, are refused as when a sha256 is given.
    const absent = chunkBuffer(randomBytes(MiB));
    expectError(
      await json("POST", `/uploads/${session}/contents`, { size: MiB, chunks: refs(absent) }),
      400,
      "INVALID",
      /not on the server/,
    );
    expectError(
      await json("POST", `/uploads/${session}/contents`, { size: first.length + 1, chunks: refs(a) }),
      400,
      "INVALID",
      /add up to/,
    );
    const commit = await json("POST", "/artifacts/m/versions", {
      upload: session,
      files: [
        { path: "a.bin", size: first.length, sha256: sha256(first) },
        { path: "b.bin", size: second.length, sha256: sha256(second) },
      ],
    });
    expect(commit.statusCode).toBe(200);
    expect((await json("GET", "/artifacts/m/versions/0.1.0/files/b.bin")).rawPayload.equals(second)).toBe(
      true,
    );
  });

  it("packs out of order: the file is read back, and a wrong sha256 refused", async () => {
    const bytes = randomBytes(3 * MiB);
    const chunks = chunkBuffer(bytes);
    const session = await startUpload();
    const [p1, p2, p3] = threePacks(chunks);
    await putPack(session, 1, framed(p1!));
    // Too far ahead of pack 2 to wait for it (a pack just ahead would wait for those before it to arrive, up
    // to a 30 s guard): the session's hashing in order stops at once.
    await putPack(session, 9, framed(p3!));
    await putPack(session, 2, framed(p2!));
    expect(await recordFile(session, bytes, chunks)).toMatchObject({ checked: true, readBack: true });
  });

  it("three packs on the wire at once (real sockets): all stored, the file checks without a read-back", async () => {
    const address = await app.listen({ port: 0, host: "127.0.0.1" });
    const bytes = randomBytes(12 * MiB);
    const chunks = chunkBuffer(bytes);
    const session = await startUpload();
    const [p1, p2, p3] = threePacks(chunks).map((pack) => framed(pack));
    const put = (n: number, body: Buffer, hold: boolean) => {
      const req = httpRequest(new URL(`${address}${API}/uploads/${session}/packs/${n}`), {
        method: "PUT",
        headers: { "content-type": CHUNK_FRAMES_TYPE, "content-length": String(body.length) },
      });
      const answered = new Promise<number>((resolve, reject) => {
        req.on("response", (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("error", reject);
      });
      // Pack 1 is held half-sent while packs 2 and 3 go out: the server gets all three at once.
      const half = Math.floor(body.length / 2);
      req.write(hold ? body.subarray(0, half) : body);
      const finish = () => req.end(hold ? body.subarray(half) : undefined);
      return { answered, finish };
    };
    const first = put(1, p1!, true);
    const second = put(2, p2!, false);
    const third = put(3, p3!, false);
    third.finish();
    second.finish();
    first.finish();
    expect(await Promise.all([first.answered, second.answered, third.answered])).toEqual([200, 200, 200]);
    // Hashed in the packs' order as they arrived, so the file is vouched for without reading it back.
    expect(await recordFile(session, bytes, chunks)).toMatchObject({ checked: true, readBack: false });
    expect(await verifyStore(store.content)).toMatchObject({ damagedChunks: 0, chunks: chunks.length });
  });
});

describe("what the server refuses", () => {
  it("a chunk whose bytes do not match its name: 400 INTEGRITY, and it is not stored", async () => {
    const chunks = chunkBuffer(randomBytes(MiB));
    const session = await startUpload();
    const bad = { hash: chunks[3]!.hash, data: Buffer.from(chunks[3]!.data) };
    bad.data[100] = (bad.data[100]! + 1) & 0xff;
    const res = await putPack(session, 1, framed([...chunks.slice(0, 3), bad, ...chunks.slice(4)]));
    expectError(res, 400, "INTEGRITY", new RegExp(chunks[3]!.hash));
    // The whole, checked chunks before it were kept; nothing from the bad one on.
    expect(
      await missing(
        session,
        chunks.map((c) => c.hash),
      ),
    ).toEqual(chunks.slice(3).map((c) => c.hash));
    expect((await verifyStore(store.content)).damagedChunks).toBe(0);
  });

  it("a malformed frame, or a body that ends inside a chunk: 400 INVALID", async () => {
    const chunks = chunkBuffer(randomBytes(MiB));
    const session = await startUpload();
    const huge = Buffer.from(frameHeader(chunks[0]!.hash, 1));
    huge.writeUInt32BE(1 << 30, 32);
    expectError(await putPack(session, 1, huge), 400, "INVALID", /1073741824 bytes/);
    const two = framed(chunks.slice(0, 2));
    const cut = two.subarray(0, two.length - 1000);
    expectError(await putPack(session, 2, cut), 400, "INVALID", /inside a chunk/);
  });

  it("a file whose chunks are not all on the server, or do not make its sha256", async () => {
    const bytes = randomBytes(MiB);
    const chunks = chunkBuffer(bytes);
    const session = await startUpload();
    await putPack(session, 1, framed(chunks.slice(1)));
    const content = { sha256: sha256(bytes), size: bytes.length, chunks: refs(chunks) };
    expectError(
      await json("POST", `/uploads/${session}/contents`, content),
      400,
      "INVALID",
      /1 chunk .* not on/,
    );
    await putPack(session, 2, framed(chunks.slice(0, 1)));
    const wrongSha = { ...content, sha256: sha256(Buffer.from("something else")) };
    expectError(await json("POST", `/uploads/${session}/contents`, wrongSha), 400, "INTEGRITY");
    const wrongSize = { ...content, size: bytes.length + 1 };
    expectError(await json("POST", `/uploads/${session}/contents`, wrongSize), 400, "INVALID", /add up to/);
    expect((await json("POST", `/uploads/${session}/contents`, content)).statusCode).toBe(200);
  });

  it("a commit naming content the server lacks, or of another size", async () => {
    const bytes = randomBytes(100_000);
    const chunks = chunkBuffer(bytes);
    const session = await startUpload();
    await putPack(session, 1, framed(chunks));
    const file = { path: "w.bin", size: bytes.length, sha256: sha256(bytes) };
    expectError(
      await json("POST", "/artifacts/m/versions", { upload: session, files: [file] }),
      400,
      "INVALID",
      /not in the store/,
    );
    await json("POST", `/uploads/${session}/contents`, {
      sha256: file.sha256,
      size: file.size,
      chunks: refs(chunks),
    });
    const wrong = { ...file, size: file.size - 1 };
    expectError(
      await json("POST", "/artifacts/m/versions", { upload: session, files: [wrong] }),
      400,
      "INVALID",
      /bytes on the server/,
    );
    expectError(
      await json("POST", "/artifacts/m/versions", { upload: session, files: [{ ...file, path: "../x" }] }),
      400,
      "INVALID",
    );
    expect((await json("POST", "/artifacts/m/versions", { upload: session, files: [file] })).statusCode).toBe(
      200,
    );
  });

  it("requests over the limits, with the error shape", async () => {
    const session = await startUpload();
    const many = Array.from({ length: 10_001 }, (_, i) => i.toString(16).padStart(64, "0"));
    expectError(
      await json("POST", `/uploads/${session}/chunks/missing`, { hashes: many }),
      400,
      "INVALID",
      /10000/,
    );
    expectError(
      await json("POST", `/uploads/${session}/chunks/missing`, { hashes: ["ABC"] }),
      400,
      "INVALID",
    );
    const tooLarge = await app.inject({
      method: "PUT",
      url: `${API}/uploads/${session}/packs/1`,
      headers: { "content-type": CHUNK_FRAMES_TYPE, "content-length": String(129 * MiB) },
      payload: Buffer.alloc(0),
    });
    expectError(tooLarge, 413, "TOO_LARGE");
    expectError(await json("POST", "/chunks/fetch", { hashes: many.slice(0, 2049) }), 400, "INVALID");
  });

  it("a reader may fetch chunks but not upload them", async () => {
    const { token, secretHash } = mintToken();
    await new Registry({ meta: store.meta, content: store.content, actor: "admin" }).createToken(
      "ci-reader",
      "reader",
      secretHash,
    );
    const auth = { authorization: `Bearer ${token}` };
    expectError(await app.inject({ method: "POST", url: `${API}/uploads`, headers: auth }), 403, "FORBIDDEN");
    expectError(await app.inject({ method: "POST", url: `${API}/uploads` }), 401, "UNAUTHORIZED");
    const fetch = await app.inject({
      method: "POST",
      url: `${API}/chunks/fetch`,
      headers: auth,
      payload: { hashes: ["0".repeat(64)] },
    });
    expectError(fetch, 404, "NOT_FOUND");
  });
});

describe("downloads", () => {
  it("a file's chunk list, then exactly the chunks asked for, each once, as frames", async () => {
    const bytes = randomBytes(2 * MiB);
    const chunks = chunkBuffer(bytes);
    const session = await startUpload();
    await putPack(session, 1, framed(chunks));
    await json("POST", `/uploads/${session}/contents`, {
      sha256: sha256(bytes),
      size: bytes.length,
      chunks: refs(chunks),
    });

    const list = await json("GET", `/contents/${sha256(bytes)}/chunks`);
    expect(list.json()).toEqual({ sha256: sha256(bytes), size: bytes.length, chunks: refs(chunks) });
    expectError(await json("GET", `/contents/${"0".repeat(64)}/chunks`), 404, "NOT_FOUND");

    const asked = [chunks[5]!.hash, chunks[1]!.hash, chunks[5]!.hash];
    const res = await json("POST", "/chunks/fetch", { hashes: asked });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe(CHUNK_FRAMES_TYPE);
    const got = new FrameReader().push(res.rawPayload);
    expect(got.map((c) => c.hash)).toEqual([chunks[5]!.hash, chunks[1]!.hash]);
    expect(Buffer.from(got[0]!.data).equals(chunks[5]!.data)).toBe(true);
    expect(Number(res.headers["content-length"])).toBe(res.rawPayload.length);
    expectError(await json("POST", "/chunks/fetch", { hashes: ["1".repeat(64)] }), 404, "NOT_FOUND");
  });
});

describe("a pack upload cut mid-way (real socket)", () => {
  it("keeps the whole chunks that arrived, nothing partial, and the retry sends only the rest", async () => {
    const address = await app.listen({ port: 0, host: "127.0.0.1" });
    const bytes = randomBytes(24 * MiB);
    const chunks = chunkBuffer(bytes);
    const session = await startUpload();
    await missing(
      session,
      chunks.map((c) => c.hash),
    );
    const body = framed(chunks);
    const cutAt = Math.floor(body.length * 0.4);

    // Send 40% of the body, then drop the connection.
    await new Promise<void>((resolve) => {
      const url = new URL(`${address}${API}/uploads/${session}/packs/1`);
      const req = httpRequest(url, {
        method: "PUT",
        headers: { "content-type": CHUNK_FRAMES_TYPE, "content-length": String(body.length) },
      });
      req.on("error", () => resolve());
      req.write(body.subarray(0, cutAt), () => setTimeout(() => req.destroy(), 300));
      req.on("close", () => resolve());
    });
    // The server finishes storing what it has once it sees the cut.
    let lacking: string[] = [];
    for (let i = 0; i < 50; i++) {
      lacking = await missing(
        session,
        chunks.map((c) => c.hash),
      );
      if (lacking.length < chunks.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const kept = chunks.length - lacking.length;
    const keptBytes = chunks.slice(0, kept).reduce((n, c) => n + c.length, 0);
    // Every whole chunk before the cut was kept (at most the one the cut fell in is missing), none after it.
    expect(lacking).toEqual(chunks.slice(kept).map((c) => c.hash));
    expect(keptBytes + kept * 36).toBeLessThanOrEqual(cutAt);
    expect(cutAt - (keptBytes + kept * 36)).toBeLessThan(128 * 1024 + 36);
    // Nothing half-written: every stored chunk checks out, and no pack holds bytes of the cut chunk.
    const report = await verifyStore(store.content);
    expect(report).toMatchObject({ damagedChunks: 0, chunks: kept, missingPacks: [] });

    const retry = await putPack(session, 2, framed(chunks.filter((c) => lacking.includes(c.hash))));
    expect(retry.json()).toEqual({
      chunks: lacking.length,
      written: lacking.length,
      bytes: bytes.length - keptBytes,
    });
    const content = { sha256: sha256(bytes), size: bytes.length, chunks: refs(chunks) };
    expect((await json("POST", `/uploads/${session}/contents`, content)).statusCode).toBe(200);
    // Each chunk is stored once: the packs hold the file's bytes plus their chunk tables.
    expect(await store.content.index.packBytes()).toBeLessThan(
      bytes.length + chunks.length * 44 + 2 * 32 + 1,
    );
  });
});
