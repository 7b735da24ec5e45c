/**
 * @module The TypeBox schemas of the chunk transfer routes (validation and the OpenAPI document both come from
 * them). Their bounds are core's TRANSFER_LIMITS, which the SDK keeps too.
 */
import { BUMPS, MAX_CHUNK_SIZE, TRANSFER_LIMITS } from "@cairn/core";
import { type TSchema, Type } from "typebox";
import { MetricValue } from "../schemas.js";

const MAX_FILES = 100_000;
const MAX_TEXT = 4096;

const HEX_64 = "^[0-9a-f]{64}$";
export const ChunkHash = Type.String({
  pattern: HEX_64,
  description: "a chunk's name: keyed BLAKE3 of its bytes, 64 lowercase hex digits",
});
export const Sha256 = Type.String({
  pattern: HEX_64,
  description: "a whole file's sha256, 64 lowercase hex digits",
});
const SessionId = Type.String({
  pattern: "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
  description: "an upload session's id",
});
const Size = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const UploadParams = Type.Object({ id: SessionId });
export const PackParams = Type.Object({
  id: SessionId,
  n: Type.Integer({
    minimum: 1,
    maximum: 1_000_000_000,
    description:
      "the client's pack count, from 1 in the order its chunks come in the files (a server that sees packs in order checks files as they arrive)",
  }),
});
export const PackQuery = Type.Object({
  file: Type.Optional(
    Type.Literal("start", {
      description:
        "`start`: this pack's first chunk begins a file; the server hashes that file's chunks from here as they arrive, so it need not read the file back to check it (or to name it)",
    }),
  ),
});
export const ContentParams = Type.Object({ sha256: Sha256 });

export const UploadSession = Type.Object({
  id: SessionId,
  startedAt: Type.String(),
  heartbeatAt: Type.String(),
  idleSeconds: Type.Integer({ description: "the session expires after this long without a request" }),
  namesFiles: Type.Boolean({
    description:
      "true: this server names a file whose contents record gives no sha256 by what its chunks make, and hashes packs sent with ?file=start from there (servers before this answer have neither)",
  }),
});

export const HashesBody = Type.Object(
  { hashes: Type.Array(ChunkHash, { maxItems: TRANSFER_LIMITS.missingHashes }) },
  { additionalProperties: false },
);
export const MissingAnswer = Type.Object({
  missing: Type.Array(ChunkHash, { description: "the asked chunks the server lacks, once each, in order" }),
});
export const FetchBody = Type.Object(
  { hashes: Type.Array(ChunkHash, { minItems: 1, maxItems: TRANSFER_LIMITS.fetchHashes }) },
  { additionalProperties: false },
);

export const PackAnswer = Type.Object({
  chunks: Type.Integer({ description: "chunks received and checked" }),
  written: Type.Integer({ description: "of those, chunks the server lacked and stored" }),
  bytes: Type.Integer({ description: "bytes of chunks stored" }),
});

const ChunkRef = Type.Object(
  { hash: ChunkHash, length: Type.Integer({ minimum: 1, maximum: MAX_CHUNK_SIZE }) },
  { additionalProperties: false },
);
export const ContentBody = Type.Object(
  {
    sha256: Type.Optional(
      Type.String({
        pattern: HEX_64,
        description:
          "the file's sha256; leave it out to have the server name the file by what its chunks make (one sha256 pass fewer for a client pushing a new file: the server hashes what it receives anyway)",
      }),
    ),
    size: Size,
    chunks: Type.Array(ChunkRef, { maxItems: TRANSFER_LIMITS.contentChunks }),
  },
  { additionalProperties: false },
);
export const ContentChunks = Type.Object({ sha256: Sha256, size: Size, chunks: Type.Array(ChunkRef) });
export const ContentAnswer = Type.Object({
  sha256: Sha256,
  size: Size,
  checked: Type.Boolean({ description: "false when the server already held this file (nothing to check)" }),
  readBack: Type.Boolean({
    description:
      "true when checking it read the file back from the store; false when it was hashed as its chunks arrived, or was held already",
  }),
});

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const JsonObject = Type.Record(Type.String(), Type.Unknown());

export const CodeInfo = Type.Object(
  {
    remote: Nullable(Type.String({ maxLength: MAX_TEXT })),
    branch: Nullable(Type.String({ maxLength: MAX_TEXT })),
    commit: Type.String({ minLength: 1, maxLength: 200 }),
    dirty: Type.Boolean(),
    patch: Nullable(Sha256),
    path: Nullable(Type.String({ maxLength: MAX_TEXT })),
  },
  { additionalProperties: false },
);

/** A new version in one request: core's PublishInput, with files named by the sha256 of uploaded contents. */
export const CommitBody = Type.Object(
  {
    upload: Type.Optional({ ...SessionId, description: "the upload session to end once the version exists" }),
    type: Type.Optional(Type.Union([Type.Literal("model"), Type.Literal("dataset")])),
    version: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
    bump: Type.Optional(Type.Union(BUMPS.map((b) => Type.Literal(b)))),
    files: Type.Array(
      Type.Object(
        {
          path: Type.String({ minLength: 1, maxLength: MAX_TEXT }),
          size: Size,
          sha256: Sha256,
          mode: Type.Optional(
            Type.String({ pattern: "^0?[0-7]{3}$", description: "permission bits in octal (default 0644)" }),
          ),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_FILES },
    ),
    params: Type.Optional(JsonObject),
    metrics: Type.Optional(Type.Record(Type.String(), MetricValue)),
    notes: Type.Optional(Type.String({ maxLength: 256 * 1024 })),
    data: Type.Optional(Type.Array(Type.String({ maxLength: 600 }), { maxItems: 1000 })),
    tags: Type.Optional(Type.Record(Type.String(), Type.String(), { maxProperties: 1000 })),
    aliases: Type.Optional(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 100 })),
    code: Type.Optional(Nullable(CodeInfo)),
    environment: Type.Optional(Nullable(JsonObject)),
    run: Type.Optional(Nullable(Type.String({ maxLength: 300 }))),
    base: Type.Optional(
      Nullable(
        Type.String({
          maxLength: 600,
          description: "a ref of the version it derives from (a base model); stored as the exact version",
        }),
      ),
    ),
  },
  { additionalProperties: false },
);
