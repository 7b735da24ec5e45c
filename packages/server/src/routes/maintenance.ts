/**
 * @module Store maintenance over the API, for admins: garbage collection and verification (`cairn gc` and
 * `cairn verify` run against a server). The same code the embedded commands run — storage's collectGarbage
 * and verifyRegistry — so gc is as safe while pushes run on any server of the store, and verify names the
 * same damaged files.
 */
import { invalid } from "@cairn/core";
import { ChunkStore, collectGarbage, verifyRegistry } from "@cairn/storage";
import { Type } from "typebox";
import { commonErrors } from "../schemas.js";
import type { RoutePlugin } from "./_shared.js";

const GcBody = Type.Object(
  { dryRun: Type.Optional(Type.Boolean({ description: "only report what would be reclaimed" })) },
  { additionalProperties: false },
);

const count = Type.Integer({ minimum: 0 });
const GcReport = Type.Object({
  dryRun: Type.Boolean(),
  liveSessions: Type.Integer({ minimum: 0, description: "pushes in flight, whose chunks were kept" }),
  contentsRemoved: count,
  chunksRemoved: count,
  packsRemoved: count,
  packsRewritten: count,
  orphanPacksRemoved: count,
  bytesReclaimed: Type.Integer({ minimum: 0, description: "bytes of packs freed (or that would be)" }),
  packBytesBefore: count,
  packBytesAfter: count,
});

const VerifyBody = Type.Object(
  {
    ref: Type.Optional(
      Type.String({ minLength: 1, description: "only this version's files (default: the whole store)" }),
    ),
  },
  { additionalProperties: false },
);

const VerifyView = Type.Object({
  scope: Type.String({ description: '"store", or the exact version checked (name@version)' }),
  ok: Type.Boolean({ description: "false if any stored data is damaged or missing" }),
  checked: Type.Object({
    packs: Type.Optional(count),
    chunks: Type.Optional(count),
    files: Type.Optional(count),
    bytes: Type.Integer({ minimum: 0, description: "bytes re-read and checked" }),
  }),
  damaged: Type.Array(
    Type.Object({
      ref: Type.String(),
      path: Type.String(),
      message: Type.Optional(Type.String()),
    }),
    { description: "every file that fails its hashes, by exact version and path" },
  ),
  missingPacks: Type.Array(Type.String(), { description: "packs the index names but the store lacks" }),
});

export const maintenanceRoutes: RoutePlugin = async (app, { services }) => {
  app.post(
    "/maintenance/gc",
    {
      schema: {
        summary: "Remove stored chunks no version uses and compact sparse packs (mark and sweep)",
        tags: ["storage"],
        body: GcBody,
        response: { 200: GcReport, ...commonErrors },
      },
      config: { access: "store.maintain" },
    },
    async (request) => {
      const { content } = services.store;
      if (!(content instanceof ChunkStore)) throw invalid("this store keeps no chunks to collect");
      return collectGarbage(content, { dryRun: request.body?.dryRun === true });
    },
  );

  app.post(
    "/maintenance/verify",
    {
      schema: {
        summary: "Re-read stored data and check every hash: one version's files, or every pack of the store",
        description: "Damage is answered with ok false and the damaged files named, not with an error.",
        tags: ["storage"],
        body: VerifyBody,
        response: { 200: VerifyView, ...commonErrors },
      },
      config: { access: "store.maintain" },
    },
    async (request) => verifyRegistry(services.registry(request), request.body?.ref),
  );
};
