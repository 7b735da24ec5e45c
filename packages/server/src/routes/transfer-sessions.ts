/**
 * @module Upload sessions of remote pushes. A client's push holds its claims (the chunks it named, which GC
 * must spare) through a session in the chunk index, exactly as a local push does through its process's; here
 * the session is kept alive by the client's requests instead of by a running process.
 */
import { type ChunkIndex, invalid, notFound, SESSION_TIMEOUT_MS, type UploadSession } from "@cairn/core";
import { ChunkStore } from "@cairn/storage";
import type { Services } from "../services.js";

/**
 * A remote session's host is `remote:<actor>`. A colon is never in a machine name, so GC on any host judges it
 * by its heartbeat alone (never by a process id), and the actor in it says whose session it is.
 */
const REMOTE_PREFIX = "remote:";
/**
 * A session is refused this long before GC would count it dead (SESSION_TIMEOUT_MS), so no request ever acts
 * for a session that a GC in progress may already have left out of its live set.
 */
export const SESSION_IDLE_MS = SESSION_TIMEOUT_MS - 30_000;
/** A request refreshes its session's heartbeat if it is at least this old. */
const HEARTBEAT_RESOLUTION_MS = 1_000;
/** How often a long request (a pack upload, a file check) refreshes its session's heartbeat. */
const TOUCH_EVERY_MS = 20_000;

/** The store's chunk store: remote pushes need one (the only content store cairn has today). */
export function chunkStoreOf(services: Services): ChunkStore {
  const content = services.store.content;
  if (!(content instanceof ChunkStore)) {
    throw invalid("this registry's content store keeps no chunks, so it cannot take chunk uploads");
  }
  return content;
}

export async function openSession(index: ChunkIndex, id: string, actor: string): Promise<UploadSession> {
  const now = new Date().toISOString();
  const session: UploadSession = {
    id,
    host: `${REMOTE_PREFIX}${actor}`,
    pid: process.pid,
    startedAt: now,
    heartbeatAt: now,
  };
  await index.touchSession(session);
  return session;
}

/**
 * The caller's live session `id`, its heartbeat refreshed. Someone else's session is NOT_FOUND like a missing
 * one; an idle one is ended (its claims released) and NOT_FOUND, with a hint to start again.
 */
export async function requireSession(index: ChunkIndex, id: string, actor: string): Promise<UploadSession> {
  const session = await index.getSession(id);
  if (!session || session.host !== `${REMOTE_PREFIX}${actor}`) {
    throw notFound(`no upload session ${id}`, { hint: "start one with POST /api/v1/uploads" });
  }
  if (Date.now() - Date.parse(session.heartbeatAt) > SESSION_IDLE_MS) {
    await index.endSession(id);
    throw notFound(`upload session ${id} has expired: no request came for ${SESSION_IDLE_MS / 1000} s`, {
      hint: "start a new upload session; chunks already stored are found again by chunks/missing",
    });
  }
  // A push sends a request every few milliseconds: the heartbeat is written at most once a second, which is
  // still exact enough for timeouts counted in minutes (it was a write transaction per request).
  if (Date.now() - Date.parse(session.heartbeatAt) >= HEARTBEAT_RESOLUTION_MS) {
    session.heartbeatAt = new Date().toISOString();
    await index.touchSession(session);
  }
  return session;
}

/** A function to call often during a long request: refreshes the session's heartbeat every so often. */
export function keepAlive(index: ChunkIndex, session: UploadSession): () => Promise<void> {
  let last = Date.now();
  return async () => {
    if (Date.now() - last < TOUCH_EVERY_MS) return;
    last = Date.now();
    session.heartbeatAt = new Date(last).toISOString();
    await index.touchSession(session);
  };
}
