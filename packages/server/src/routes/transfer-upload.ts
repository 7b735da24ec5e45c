/**
 * @module The push half of chunk transfer: upload sessions, which chunks the server lacks, pack uploads,
 * file chunk lists, and the commit of a version in one request. The protocol is described in transfer.ts.
 */
import { randomUUID } from "node:crypto";
import {
  type ChunkRef,
  FrameReader,
  invalid,
  type JsonObject,
  TRANSFER_LIMITS,
  viewVersion,
} from "@cairn/core";
import { type CheckedChunks, type ChunkStore, createChunkHasher, type PendingChunk } from "@cairn/storage";
import { EdgeRefusal, isCutShort } from "../errors.js";
import { ArtifactParams, commonErrors, ErrorBody, VersionView } from "../schemas.js";
import type { RoutePlugin } from "./_shared.js";
import { Arrivals, type ArrivedFile, type SessionArrivals } from "./transfer-arrivals.js";
import {
  CommitBody,
  ContentAnswer,
  ContentBody,
  HashesBody,
  MissingAnswer,
  PackAnswer,
  PackParams,
  PackQuery,
  UploadParams,
  UploadSession,
} from "./transfer-schemas.js";
import {
  chunkStoreOf,
  keepAlive,
  openSession,
  requireSession,
  SESSION_IDLE_MS,
} from "./transfer-sessions.js";

const pushAccess = { access: "version.push" } as const;
const uploadErrors = { ...commonErrors, 413: ErrorBody } as const;

const sessionView = (s: { id: string; startedAt: string; heartbeatAt: string }) => ({
  id: s.id,
  startedAt: s.startedAt,
  heartbeatAt: s.heartbeatAt,
  idleSeconds: SESSION_IDLE_MS / 1000,
  namesFiles: true,
});

/**
 * The chunks of a pack upload body, each checked against its name before it is handed on: a chunk whose
 * bytes do not hash to its name refuses the upload (400 INTEGRITY). Bounded to the pack body limit.
 *
 * A pack hashed in turn for its session (see transfer-arrivals.ts) is checked on the arrivals' worker thread, a
 * block of chunks at a time while the next block arrives; any other pack is checked here. Either way the whole
 * chunks that arrived and matched before a failure (a cut, a refusal) are handed on, so they are kept.
 */
async function* checkedChunks(
  body: AsyncIterable<Uint8Array>,
  touch: () => Promise<void>,
  arrived: Set<string>,
  hashed: { arrivals: SessionArrivals; n: number; startsFile: boolean },
): AsyncGenerator<PendingChunk> {
  const frames = new FrameReader();
  const namer = createChunkHasher();
  let received = 0;
  const tracked = await hashed.arrivals.begin(hashed.n, hashed.startsFile);
  let whole = false;
  try {
    for await (const piece of body) {
      received += piece.byteLength;
      if (received > TRANSFER_LIMITS.packBodyBytes) {
        throw new EdgeRefusal(
          413,
          "TOO_LARGE",
          `a pack upload is at most ${TRANSFER_LIMITS.packBodyBytes} bytes`,
          { hint: "send the chunks in several packs" },
        );
      }
      // Each chunk as the views of the body's pieces it arrived in: checked here and stored without a copy of
      // its own, or copied once for the arrivals' worker.
      for (const { hash, parts } of frames.pushParts(piece)) {
        arrived.add(hash);
        if (tracked) {
          hashed.arrivals.add(hash, parts);
          continue;
        }
        for (const part of parts) namer.update(part);
        if (namer.digest() !== hash) throw refused(hash);
        yield { hash, data: parts };
      }
      if (tracked) yield* handOn(await hashed.arrivals.take(false));
      await touch();
    }
    frames.end();
    if (tracked) yield* handOn(await hashed.arrivals.take(true));
    whole = true;
  } catch (error) {
    // Before failing, the chunks that arrived whole and were still being checked (none after a refused one).
    if (tracked) yield* handOn(await hashed.arrivals.take(true));
    if (isCutShort(error)) {
      throw invalid(`the pack upload was cut short after ${received} bytes`, {
        hint: "the whole chunks received are kept: ask chunks/missing again and send the rest",
      });
    }
    throw error;
  } finally {
    if (tracked) hashed.arrivals.ended(whole);
  }
}

/** Chunks checked on the arrivals' worker, to hand on in order; the one that did not match refuses the upload. */
function* handOn(checked: CheckedChunks): Generator<PendingChunk> {
  yield* checked.chunks;
  if (checked.bad !== undefined) throw refused(checked.bad);
}

const refused = (hash: string) =>
  new EdgeRefusal(400, "INTEGRITY", `chunk ${hash} does not match its bytes: refused`, {
    hint: "the bytes were damaged on the way, or the client names chunks wrongly",
  });

/**
 * Checks a file a client describes: every chunk present with the length given, and their bytes make the size
 * given and the sha256 given. When the client left the sha256 out, it is what their bytes make. Either is known
 * already if the session's packs brought exactly those chunks in that order (`arrived`, the sha256 they made),
 * else read back from the store (each chunk checked against its BLAKE3 on the way). Chunks that arrived in
 * packs already stored are known to be present, with the lengths they arrived with: not looked up again (18k
 * lookups per GiB, the longest part of this request).
 */
async function checkContent(
  store: ChunkStore,
  content: { sha256?: string | undefined; size: number; chunks: ChunkRef[] },
  touch: () => Promise<void>,
  arrived: ArrivedFile | undefined,
): Promise<{ sha256: string; readBack: boolean }> {
  const { size, chunks } = content;
  const label = content.sha256 ?? "the file";
  const total = chunks.reduce((sum, c) => sum + c.length, 0);
  if (total !== size) throw invalid(`the chunks of ${label} add up to ${total} bytes, not ${size}`);
  if (!arrived?.stored) await checkPresent(store, label, chunks);
  let sha256 = arrived?.sha256;
  const readBack = sha256 === undefined;
  if (sha256 === undefined) {
    sha256 = (await store.sha256Of(chunks, `content ${label.slice(0, 12)}`, touch)).sha256;
  }
  if (content.sha256 !== undefined && sha256 !== content.sha256) {
    throw new EdgeRefusal(
      400,
      "INTEGRITY",
      `the chunks given do not make a file with sha256 ${content.sha256}`,
    );
  }
  return { sha256, readBack };
}

/** Every chunk of a file on the server, with the length the client gives. */
async function checkPresent(store: ChunkStore, label: string, chunks: ChunkRef[]): Promise<void> {
  const where = await store.index.locateChunks(chunks.map((c) => c.hash));
  const absent = chunks.filter((c) => !where.has(c.hash));
  if (absent.length > 0) {
    throw invalid(
      `${absent.length} chunk${absent.length === 1 ? "" : "s"} of ${label} ${absent.length === 1 ? "is" : "are"} not on the server (the first: ${absent[0]!.hash})`,
      { hint: "ask chunks/missing for the file's chunks and upload those first" },
    );
  }
  const wrong = chunks.find((c) => where.get(c.hash)!.length !== c.length);
  if (wrong)
    throw invalid(`chunk ${wrong.hash} is ${where.get(wrong.hash)!.length} bytes, not ${wrong.length}`);
}

interface StoreInFlight {
  done: Promise<void>;
  /** The names of the chunks whose frames have arrived so far. */
  received: Set<string>;
}

/**
 * Pack uploads being stored, per session. A client that lost a pack's connection asks chunks/missing before
 * resending; the server may still be storing the whole chunks that arrived before the cut, so the question
 * waits for those first (briefly: a connection the server has not yet seen drop must not stall it). Only a
 * store that received one of the chunks asked about can change the answer, so only such a store is waited
 * for: a push asking about its next chunks while its previous pack is stored goes on at once.
 */
class StoresInFlight {
  private readonly bySession = new Map<string, Set<StoreInFlight>>();

  track<T>(session: string, received: Set<string>, store: Promise<T>): Promise<T> {
    const set = this.bySession.get(session) ?? new Set();
    this.bySession.set(session, set);
    const entry: StoreInFlight = {
      done: store.then(
        () => {},
        () => {},
      ),
      received,
    };
    set.add(entry);
    void entry.done.then(() => {
      set.delete(entry);
      if (set.size === 0) this.bySession.delete(session);
    });
    return store;
  }

  async settle(session: string, asked: readonly string[], withinMs: number): Promise<void> {
    const set = this.bySession.get(session);
    if (!set) return;
    const relevant = [...set].filter((entry) => asked.some((hash) => entry.received.has(hash)));
    if (relevant.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, withinMs);
    });
    await Promise.race([Promise.all(relevant.map((entry) => entry.done)), timeout]);
    clearTimeout(timer);
  }
}

const SETTLE_MS = 5_000;

const fromJsonMetric = (value: number | string): number =>
  typeof value === "number"
    ? value
    : value === "NaN"
      ? Number.NaN
      : value === "Infinity"
        ? Infinity
        : -Infinity;

export const uploadRoutes: RoutePlugin = async (app, { services }) => {
  const inFlight = new StoresInFlight();
  // A worker of several does not wait for packs that may be arriving at another (they would never come).
  const arrivals = new Arrivals(SESSION_IDLE_MS, services.packsMayArriveElsewhere ? 0 : undefined);

  app.post(
    "/uploads",
    {
      schema: {
        summary: "Start an upload session: it holds the chunks a push names until its version is committed",
        tags: ["transfer"],
        response: { 200: UploadSession, ...commonErrors },
      },
      config: pushAccess,
    },
    async (request) => {
      const store = chunkStoreOf(services);
      return sessionView(await openSession(store.index, randomUUID(), request.actor));
    },
  );

  app.post(
    "/uploads/:id/heartbeat",
    {
      schema: {
        summary: "Keep an upload session alive (every request on it does the same)",
        tags: ["transfer"],
        params: UploadParams,
        response: { 200: UploadSession, ...commonErrors },
      },
      config: pushAccess,
    },
    async (request) => {
      const store = chunkStoreOf(services);
      return sessionView(await requireSession(store.index, request.params.id, request.actor));
    },
  );

  app.delete(
    "/uploads/:id",
    {
      schema: {
        summary: "Abandon an upload session, releasing what it holds (GC may then collect its chunks)",
        tags: ["transfer"],
        params: UploadParams,
        response: { 200: UploadSession, ...commonErrors },
      },
      config: pushAccess,
    },
    async (request) => {
      const store = chunkStoreOf(services);
      const session = await requireSession(store.index, request.params.id, request.actor);
      await store.index.endSession(session.id);
      arrivals.forget(session.id);
      return sessionView(session);
    },
  );

  app.post(
    "/uploads/:id/chunks/missing",
    {
      schema: {
        summary: "Which of these chunks the server lacks; all of them are held for the session from now on",
        tags: ["transfer"],
        params: UploadParams,
        body: HashesBody,
        response: { 200: MissingAnswer, ...commonErrors },
      },
      config: pushAccess,
    },
    async (request) => {
      const store = chunkStoreOf(services);
      const session = await requireSession(store.index, request.params.id, request.actor);
      const asked = [...new Set(request.body.hashes)];
      await inFlight.settle(session.id, asked, SETTLE_MS);
      // Claim first, then look up (in one transaction): a chunk reported present cannot be collected before
      // the version that uses it is committed.
      const stored = await store.index.claimChunks(session.id, asked);
      return { missing: asked.filter((hash) => !stored.has(hash)) };
    },
  );

  app.put(
    "/uploads/:id/packs/:n",
    {
      schema: {
        summary: "Upload chunks as a stream of frames (hash, length, bytes); each is checked, then stored",
        description:
          "Body: `application/vnd.cairn.chunks`, at most 128 MiB. A body cut short keeps every whole chunk " +
          "received before the cut; ask chunks/missing again and send the rest.",
        tags: ["transfer"],
        params: PackParams,
        querystring: PackQuery,
        response: { 200: PackAnswer, ...uploadErrors },
      },
      config: pushAccess,
    },
    async (request) => {
      const declared = Number(request.headers["content-length"]);
      if (declared > TRANSFER_LIMITS.packBodyBytes) {
        throw new EdgeRefusal(
          413,
          "TOO_LARGE",
          `a pack upload is at most ${TRANSFER_LIMITS.packBodyBytes} bytes`,
          {
            hint: "send the chunks in several packs",
          },
        );
      }
      const store = chunkStoreOf(services);
      const session = await requireSession(store.index, request.params.id, request.actor);
      // The content-type parser hands the body over unread (see transfer.ts).
      const body = request.body as AsyncIterable<Uint8Array>;
      const arrived = new Set<string>();
      const sessionArrivals = arrivals.of(session.id);
      const report = await inFlight.track(
        session.id,
        arrived,
        store.storeSessionChunks(
          session.id,
          checkedChunks(body, keepAlive(store.index, session), arrived, {
            arrivals: sessionArrivals,
            n: request.params.n,
            startsFile: request.query.file === "start",
          }),
        ),
      );
      // Durable and indexed, every chunk of it (a failure above threw): files made of it need no lookup.
      sessionArrivals.stored(request.params.n);
      return { chunks: report.chunks, written: report.written, bytes: report.writtenBytes };
    },
  );

  app.post(
    "/uploads/:id/contents",
    {
      schema: {
        summary:
          "Record a file as its ordered chunks; the server checks they are present and make its sha256 (or, given none, names the file by the sha256 they make)",
        tags: ["transfer"],
        params: UploadParams,
        body: ContentBody,
        response: { 200: ContentAnswer, ...uploadErrors },
      },
      config: pushAccess,
      // A 64 GiB file lists a million chunks.
      bodyLimit: 128 * 1024 * 1024,
    },
    async (request) => {
      const store = chunkStoreOf(services);
      const session = await requireSession(store.index, request.params.id, request.actor);
      const given = request.body;
      // Left to name a file its packs did not bring, the server may hold it already as the same chunks (the
      // same file pushed under another name): named so, not read back. A file given with its sha256 needs
      // the arrivals only if it is not held already.
      const unnamed = given.sha256 === undefined;
      const named = unnamed ? await arrivals.fileOf(session.id, given) : undefined;
      const known =
        given.sha256 ??
        (named ? undefined : ((await store.index.findContent(given.size, given.chunks)) ?? undefined));
      const held = known === undefined ? null : await store.index.getContent(known);
      let content: { sha256: string; size: number; chunks: ChunkRef[] };
      let checked = false;
      let readBack = false;
      if (held && (await store.index.hasContent(held.sha256))) {
        content = { ...given, sha256: held.sha256 };
      } else {
        // An unnamed file's arrivals were looked up above (the names digest costs a pass over its chunks).
        const arrived = unnamed ? named : await arrivals.fileOf(session.id, given);
        const check = await checkContent(store, given, keepAlive(store.index, session), arrived);
        content = { ...given, sha256: check.sha256 };
        checked = true;
        readBack = check.readBack;
      }
      // A file named by the server may be one it holds already; then it must be of the same size.
      const same = held ?? (given.sha256 === undefined ? await store.index.getContent(content.sha256) : null);
      if (same && same.size !== content.size) {
        throw invalid(`the server holds ${content.sha256} as ${same.size} bytes, not ${content.size}`);
      }
      // Recorded (if new) and claimed for the session, so it stays until the version is committed.
      await store.index.putContent(session.id, content);
      return { sha256: content.sha256, size: content.size, checked, readBack };
    },
  );

  app.post(
    "/artifacts/:name/versions",
    {
      schema: {
        summary: "Publish a version whose files' contents are on the server; ends the upload session given",
        tags: ["versions"],
        params: ArtifactParams,
        body: CommitBody,
        response: { 200: VersionView, ...commonErrors, 409: ErrorBody },
      },
      config: pushAccess,
      bodyLimit: 32 * 1024 * 1024,
    },
    async (request) => {
      const store = services.store;
      const { upload, files, metrics, params, environment, ...rest } = request.body;
      const index = store.content.index;
      const session =
        upload !== undefined && index ? await requireSession(index, upload, request.actor) : null;
      // publishVersion checks that each content is whole in the store; its size is the client's word here.
      if (index) {
        for (const file of files) {
          const held = await index.getContent(file.sha256);
          if (held && held.size !== file.size) {
            throw invalid(`file ${file.path} is ${held.size} bytes on the server, not ${file.size}`);
          }
        }
      }
      const version = await services.registry(request).publishVersion({
        ...rest,
        name: request.params.name,
        // Any JSON object: the body parser made them from JSON text.
        ...(params !== undefined ? { params: params as JsonObject } : {}),
        ...(environment !== undefined ? { environment: environment as JsonObject | null } : {}),
        files: files.map((f) => ({
          path: f.path,
          size: f.size,
          sha256: f.sha256,
          mode: Number.parseInt(f.mode ?? "644", 8),
        })),
        ...(metrics !== undefined
          ? { metrics: Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, fromJsonMetric(v)])) }
          : {}),
      });
      if (session && index) {
        await index.endSession(session.id);
        arrivals.forget(session.id);
      }
      return viewVersion(version);
    },
  );
};
