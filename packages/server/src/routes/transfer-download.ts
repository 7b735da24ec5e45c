/**
 * @module The pull half of chunk transfer: a file's ordered chunk list, and a streamed body of the chunks a
 * client lacks, so a client with a chunk cache fetches only those. The protocol is described in transfer.ts.
 */
import { Readable } from "node:stream";
import { CHUNK_FRAMES_TYPE, type ChunkRef, FRAME_HEADER_SIZE, frameHeader, notFound } from "@cairn/core";
import type { ChunkStore } from "@cairn/storage";
import { commonErrors } from "../schemas.js";
import type { RoutePlugin } from "./_shared.js";
import { ContentChunks, ContentParams, FetchBody } from "./transfer-schemas.js";
import { chunkStoreOf } from "./transfer-sessions.js";

/** Each chunk as a frame; every chunk's BLAKE3 is checked by the store before it is framed. */
async function* framed(store: ChunkStore, refs: ChunkRef[]): AsyncGenerator<Uint8Array> {
  let i = 0;
  for await (const data of store.readChunks(refs, "chunk fetch")) {
    yield frameHeader(refs[i++]!.hash, data.byteLength);
    yield data;
  }
}

/**
 * Starts the stream before the answer is committed, so a failure on the first chunk is answered as a JSON
 * error; a later one cuts the connection short of content-length, which a client cannot take for a whole body.
 */
async function startedStream(source: AsyncGenerator<Uint8Array>, onError: (error: unknown) => void) {
  const first = await source.next();
  async function* all(): AsyncGenerator<Uint8Array> {
    try {
      if (!first.done) yield first.value;
      yield* source;
    } catch (error) {
      onError(error);
      throw error;
    } finally {
      await source.return(undefined);
    }
  }
  return Readable.from(all(), { objectMode: false });
}

export const downloadRoutes: RoutePlugin = async (app, { services }) => {
  app.get(
    "/contents/:sha256/chunks",
    {
      schema: {
        summary: "A file's ordered chunk list, by the file's sha256",
        tags: ["transfer"],
        params: ContentParams,
        response: { 200: ContentChunks, ...commonErrors },
      },
    },
    async (request) => {
      const store = chunkStoreOf(services);
      const record = await store.index.getContent(request.params.sha256);
      if (!record) throw notFound(`no file with sha256 ${request.params.sha256} on this server`);
      return record;
    },
  );

  app.post(
    "/chunks/fetch",
    {
      schema: {
        summary:
          "A stream of the chunks asked for (hash, length, bytes frames), each once, in the order asked",
        description:
          "Answers `application/vnd.cairn.chunks`; each chunk is checked by the server as it is read.",
        tags: ["transfer"],
        body: FetchBody,
        response: {
          200: { description: "chunk frames", content: { [CHUNK_FRAMES_TYPE]: { schema: {} } } },
          ...commonErrors,
        },
      },
      // A POST only for the length of its question: it reads.
      config: { access: "read" },
    },
    async (request, reply) => {
      const store = chunkStoreOf(services);
      const asked = [...new Set(request.body.hashes)];
      const where = await store.index.locateChunks(asked);
      const absent = asked.find((hash) => !where.has(hash));
      if (absent !== undefined) throw notFound(`no chunk ${absent} on this server`);
      const refs = asked.map((hash) => ({ hash, length: where.get(hash)!.length }));
      const length = refs.reduce((sum, r) => sum + FRAME_HEADER_SIZE + r.length, 0);
      const body = await startedStream(framed(store, refs), (error) =>
        request.log.error({ err: error }, "chunk fetch failed mid-stream: connection cut"),
      );
      return reply.type(CHUNK_FRAMES_TYPE).header("content-length", length).send(body);
    },
  );
};
