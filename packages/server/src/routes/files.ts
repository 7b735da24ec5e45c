/**
 * @module Downloading one file of a version. The bytes stream from the content store, which verifies every
 * chunk before it yields it; the file's path is looked up among the version's recorded files (never joined
 * onto a folder), so no request path can reach anything else.
 */
import { Readable } from "node:stream";
import { type ByteSource, normaliseFilePath, notFound } from "@cairn/core";
import { commonErrors, FileParams } from "../schemas.js";
import { type RoutePlugin, versionRef } from "./_shared.js";

/**
 * Starts reading before the answer is committed, so a failure on the first chunk (missing content, a damaged
 * pack) is answered as a JSON error, and always holds one piece back: the last piece goes out only after the
 * store has checked the whole file's sha256. A failure later cuts the connection short of content-length,
 * so a client can never take a damaged file for a whole one.
 */
async function verifiedStream(source: ByteSource, onError: (error: unknown) => void): Promise<Readable> {
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next();
  async function* heldBack(): AsyncGenerator<Uint8Array> {
    let held = first;
    try {
      while (!held.done) {
        const next = await iterator.next();
        yield held.value;
        held = next;
      }
    } catch (error) {
      onError(error);
      throw error;
    } finally {
      // The client went away (or the read failed): let the store release what it holds.
      if (!held.done) await iterator.return?.();
    }
  }
  return Readable.from(heldBack(), { objectMode: false });
}

export const fileRoutes: RoutePlugin = async (app, { services }) => {
  app.get(
    "/artifacts/:name/versions/:version/files/*",
    {
      schema: {
        summary: "A file's bytes, verified while they stream; etag is the file's sha256",
        tags: ["files"],
        params: FileParams,
        response: {
          200: { description: "the file's bytes", content: { "application/octet-stream": { schema: {} } } },
          304: { description: "not modified: the client holds these bytes (If-None-Match)", type: "null" },
          ...commonErrors,
        },
      },
    },
    async (request, reply) => {
      const { name, version: versionText } = request.params;
      // INVALID for `..`, absolute paths and NUL bytes: the same rule that guards push and pull.
      const path = normaliseFilePath(request.params["*"]);
      const version = await services.registry(request).resolve(versionRef(name, versionText));
      const file = version.files.find((f) => f.path === path);
      if (!file) {
        throw notFound(`${version.artifact}@${version.version} has no file ${path}`, {
          hint: `see \`cairn show ${version.artifact}@${version.version}\``,
        });
      }
      const etag = `"${file.sha256}"`;
      reply.header("etag", etag).header("cache-control", "private, max-age=0, must-revalidate");
      // A file's bytes never change under its sha256: a client holding them need not fetch them again.
      if (request.headers["if-none-match"] === etag) return reply.status(304).send(null);
      const label = `${version.artifact}@${version.version}: ${file.path}`;
      const body = await verifiedStream(services.store.content.read(file, { label }), (error) =>
        request.log.error({ err: error }, "file read failed mid-stream: connection cut"),
      );
      return reply
        .type("application/octet-stream")
        .header("content-length", file.size)
        .header("x-cairn-sha256", file.sha256)
        .header(
          "content-disposition",
          `attachment; filename*=UTF-8''${encodeURIComponent(path.split("/").at(-1) ?? path)}`,
        )
        .send(body);
    },
  );
};
