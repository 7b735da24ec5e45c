/**
 * @module Chunk transfer (DESIGN §3 "Remote push/pull"): a client chunks files itself and the server stores or
 * sends only the chunks the other side lacks. Wires the upload and download routes and how their binary
 * bodies are read.
 *
 * Push, all under /api/v1, with a writer token:
 *   1. `POST /uploads` → `{id}`: an upload session. Its claims keep GC off every chunk and file it names until
 *      the version is committed. Every request on the session refreshes its heartbeat (or
 *      `POST /uploads/:id/heartbeat`); after 90 s without one it expires and answers NOT_FOUND.
 *   2. `POST /uploads/:id/chunks/missing` `{hashes}` (≤ 10,000) → `{missing}`: the chunks to send.
 *   3. `PUT /uploads/:id/packs/:n`, body `application/vnd.cairn.chunks` (≤ 128 MiB): frames back to back,
 *      each `hash (32 bytes) | length (u32 big-endian) | bytes` (core's FrameReader). The server checks each
 *      chunk's BLAKE3 against its name (a mismatch: 400 INTEGRITY) and writes the chunks it lacks into a pack,
 *      indexed once durable → `{chunks, written, bytes}`. Resumable: a body cut short keeps every whole chunk
 *      that arrived (never a partial one); the client asks chunks/missing again and sends only the rest.
 *      Packs are numbered from 1 in file order and may overlap (the SDK keeps three on the wire); the server
 *      hashes their chunks in that order as they arrive (transfer-arrivals.ts), from the first pack or from one
 *      sent as `packs/:n?file=start` (its first chunk begins a file: the SDK starts each large file so).
 *   4. `POST /uploads/:id/contents` `{sha256, size, chunks: [{hash, length}]}` per file: the server checks
 *      every chunk is present and that their bytes make that sha256 and size (known from the arrivals for a
 *      file that is the chunks sent from pack 1 on, in order; else read back from the store). Without
 *      `sha256` the server names the file by the sha256 its chunks make, found the same way, and answers it.
 *   5. `POST /artifacts/:name/versions` `{upload, files: [{path, size, sha256, mode}], …}`: core's
 *      publishVersion (each file's content whole on the server, of the size given), then the session ends.
 *
 * Pull, with a reader token: `GET /contents/:sha256/chunks` → the file's ordered chunk list; then
 * `POST /chunks/fetch` `{hashes}` (≤ 2,048) → a body of frames of those chunks, for those missing from the
 * client's chunk cache. A whole file also streams from `GET /artifacts/:name/versions/:version/files/*`.
 */
import { CHUNK_FRAMES_TYPE } from "@cairn/core";
import type { RoutePlugin } from "./_shared.js";
import { downloadRoutes } from "./transfer-download.js";
import { uploadRoutes } from "./transfer-upload.js";

export const transferRoutes: RoutePlugin = async (app, options) => {
  // Pack bodies are streamed straight to the route, which checks and stores them chunk by chunk (and
  // enforces their own size limit): never buffered whole. Registered here, so only these routes see it.
  app.addContentTypeParser([CHUNK_FRAMES_TYPE, "application/octet-stream"], (_request, payload, done) => {
    done(null, payload);
  });
  app.register(uploadRoutes, options);
  app.register(downloadRoutes, options);
};
