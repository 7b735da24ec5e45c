/**
 * @module The API's TypeBox schemas. Fastify validates requests with them and @fastify/swagger builds the
 * OpenAPI document from them, so the document cannot drift from what the server accepts. Response schemas
 * describe core's JSON shapes (VersionView, AliasEvent, …) for the document and the tests.
 */
import { type Static, type TSchema, Type } from "typebox";

// Bounds on what a request may carry: each is far above real use and keeps one request's work small.
export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 100;
const MAX_TEXT = 4096;
const MAX_NOTES = 256 * 1024;
const MAX_TAGS = 1000;

// ---- building blocks -------------------------------------------------------------------------------------

/** JSON cannot carry NaN or ±Infinity: metrics write them as these strings, as the CLI's --json does. */
export const MetricValue = Type.Union([
  Type.Number(),
  Type.Literal("NaN"),
  Type.Literal("Infinity"),
  Type.Literal("-Infinity"),
]);

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const AnyJson = Type.Unknown({ description: "any JSON value" });
const JsonObject = Type.Record(Type.String(), AnyJson);
const Timestamp = Type.String({ description: "ISO 8601 time, UTC" });

/** The cursor of the next page, or null on the last one. Opaque: pass it back as `cursor`. */
const NextCursor = Nullable(Type.String());
const Page = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item), nextCursor: NextCursor });

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: "stable: NOT_FOUND, INVALID, CONFLICT, INTEGRITY, TOO_LARGE, …" }),
      message: Type.String(),
      hint: Type.Optional(Type.String({ description: "a next step for the user" })),
    }),
  },
  { description: "every error answer" },
);

// ---- path and query parameters ---------------------------------------------------------------------------

// Names are checked by core (one rule for every entry point, with its hint); here only their size is bounded.
const NameParam = Type.String({ minLength: 1, maxLength: 200, description: "artifact name" });
const VersionParam = Type.String({ minLength: 1, maxLength: 300, description: "exact semver version" });
const AliasParam = Type.String({ minLength: 1, maxLength: 100, description: "alias name, e.g. production" });
const RefText = Type.String({
  minLength: 1,
  maxLength: 600,
  description: "name@1.2.0, name@production, name@latest, name@^1.2 or name#3 (URL-encoded)",
});

export const ArtifactParams = Type.Object({ name: NameParam });
export const VersionParams = Type.Object({ name: NameParam, version: VersionParam });
export const AliasParams = Type.Object({ name: NameParam, alias: AliasParam });
export const RefParams = Type.Object({ ref: RefText });
export const FileParams = Type.Object({
  name: NameParam,
  version: VersionParam,
  "*": Type.String({ description: "the file's path inside the version" }),
});

export const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});
export const DiffQuery = Type.Object({ a: RefText, b: RefText });
export const AliasHistoryQuery = Type.Object({
  alias: Type.Optional(AliasParam),
  limit: PageQuery.properties.limit,
  cursor: PageQuery.properties.cursor,
});
export const AuditQuery = Type.Object({
  artifact: Type.Optional(NameParam),
  limit: PageQuery.properties.limit,
  cursor: PageQuery.properties.cursor,
});
export const StatsQuery = Type.Object({ artifact: Type.Optional(NameParam) });
export const ReasonQuery = Type.Object({ reason: Type.Optional(Type.String({ maxLength: MAX_TEXT })) });

// ---- request bodies --------------------------------------------------------------------------------------

const Reason = Type.String({ maxLength: MAX_TEXT, description: "why, kept in the alias history" });

export const SetAliasBody = Type.Object(
  { version: VersionParam, reason: Type.Optional(Reason) },
  { additionalProperties: false },
);
export const RollbackBody = Type.Object(
  {
    to: Type.Optional(Type.String({ maxLength: 300, description: "roll back to this version instead" })),
    reason: Type.Optional(Reason),
  },
  { additionalProperties: false },
);
export const TagsBody = Type.Object(
  {
    set: Type.Optional(
      Type.Record(Type.String(), Type.String(), { maxProperties: MAX_TAGS, description: "labels to set" }),
    ),
    remove: Type.Optional(
      Type.Array(Type.String({ maxLength: 200 }), { maxItems: MAX_TAGS, description: "labels to remove" }),
    ),
  },
  { additionalProperties: false },
);
export const NotesBody = Type.Object(
  { notes: Type.String({ maxLength: MAX_NOTES, description: "release notes (markdown)" }) },
  { additionalProperties: false },
);

// ---- responses: core's JSON shapes -------------------------------------------------------------------------

export const ArtifactSummary = Type.Object({
  name: Type.String(),
  type: Type.Union([Type.Literal("model"), Type.Literal("dataset")]),
  createdAt: Timestamp,
  versionCount: Type.Integer(),
  latestVersion: Nullable(Type.String()),
  updatedAt: Timestamp,
});

export const Alias = Type.Object({
  artifact: Type.String(),
  alias: Type.String(),
  version: Type.String(),
  protected: Type.Boolean(),
  updatedAt: Timestamp,
});

export const ArtifactDetail = Type.Object({
  ...ArtifactSummary.properties,
  aliases: Type.Array(Alias),
});

export const VersionSummary = Type.Object({
  artifact: Type.String(),
  version: Type.String(),
  seq: Type.Integer(),
  createdAt: Timestamp,
  size: Type.Integer(),
  fileCount: Type.Integer(),
  metrics: Type.Record(Type.String(), MetricValue),
  aliases: Type.Array(Type.String()),
});

const CodeInfo = Type.Object({
  remote: Nullable(Type.String()),
  branch: Nullable(Type.String()),
  commit: Type.String(),
  dirty: Type.Boolean(),
  patch: Nullable(Type.String({ description: "sha256 of the uncommitted patch in the content store" })),
  path: Nullable(Type.String()),
});

/** core's VersionView: what `cairn show --json` prints. */
export const VersionView = Type.Object({
  name: Type.String(),
  version: Type.String(),
  seq: Type.Integer(),
  type: Type.String(),
  createdAt: Timestamp,
  createdBy: Type.String(),
  size: Type.Integer(),
  files: Type.Array(
    Type.Object({
      path: Type.String(),
      size: Type.Integer(),
      sha256: Type.String(),
      mode: Type.String({ description: "permission bits as four octal digits, e.g. 0644" }),
    }),
  ),
  params: JsonObject,
  metrics: Type.Record(Type.String(), MetricValue),
  tags: Type.Record(Type.String(), Type.String()),
  aliases: Type.Array(Type.String()),
  notes: Type.String(),
  data: Type.Array(Type.String()),
  code: Nullable(CodeInfo),
  environment: Nullable(JsonObject),
  run: Nullable(Type.String()),
  base: Nullable(Type.String({ description: "the exact version it derives from (`--base`)" })),
});

const CodeSummary = Nullable(
  Type.Object({
    commit: Type.String(),
    branch: Nullable(Type.String()),
    remote: Nullable(Type.String()),
    dirty: Type.Boolean(),
  }),
);
const NullableMetric = Nullable(MetricValue);

export const VersionDiff = Type.Object({
  a: Type.String(),
  b: Type.String(),
  files: Type.Object({
    added: Type.Array(Type.String()),
    removed: Type.Array(Type.String()),
    changed: Type.Array(Type.String()),
    unchanged: Type.Integer(),
  }),
  params: Type.Object({
    added: JsonObject,
    removed: JsonObject,
    changed: Type.Record(Type.String(), Type.Array(AnyJson, { minItems: 2, maxItems: 2 })),
  }),
  metrics: Type.Record(
    Type.String(),
    Type.Object({ a: NullableMetric, b: NullableMetric, delta: NullableMetric }),
  ),
  data: Type.Object({ added: Type.Array(Type.String()), removed: Type.Array(Type.String()) }),
  code: Type.Object({ a: CodeSummary, b: CodeSummary, changed: Type.Boolean() }),
});

export const AliasEvent = Type.Object({
  id: Type.Integer(),
  artifact: Type.String(),
  alias: Type.String(),
  action: Type.Union([Type.Literal("set"), Type.Literal("remove"), Type.Literal("rollback")]),
  from: Nullable(Type.String()),
  to: Nullable(Type.String()),
  actor: Type.String(),
  at: Timestamp,
  reason: Nullable(Type.String()),
});

export const AuditEvent = Type.Object({
  id: Type.Integer(),
  at: Timestamp,
  actor: Type.String(),
  action: Type.String(),
  artifact: Nullable(Type.String()),
  target: Type.String(),
  before: AnyJson,
  after: AnyJson,
});

const StorageStats = Type.Object({
  artifact: Nullable(Type.String()),
  versions: Type.Integer(),
  files: Type.Integer(),
  logicalBytes: Type.Integer(),
  storedBytes: Type.Integer(),
  dedupRatio: Nullable(Type.Number()),
});

/** core's StatsView: what `cairn stats --json` prints. */
export const StatsView = Type.Object({
  artifacts: Type.Array(StorageStats),
  overall: Nullable(Type.Object({ ...StorageStats.properties, packBytes: Type.Integer() })),
});

export const Health = Type.Object({ status: Type.Literal("ok") });

export const ArtifactPage = Page(ArtifactSummary);
export const VersionPage = Page(VersionSummary);
export const AliasPage = Page(Alias);
export const AliasEventPage = Page(AliasEvent);
export const AuditPage = Page(AuditEvent);

// ---- tokens and alias protection ---------------------------------------------------------------------------

const Role = Type.Union([Type.Literal("reader"), Type.Literal("writer"), Type.Literal("admin")], {
  description: "reader < writer < admin",
});
const TokenName = Type.String({
  minLength: 1,
  maxLength: 64,
  description: "unique; the actor in the audit log",
});

export const TokenParams = Type.Object({ name: TokenName });
export const CreateTokenBody = Type.Object({ name: TokenName, role: Role }, { additionalProperties: false });
export const ProtectionBody = Type.Object(
  { protected: Type.Boolean({ description: "true: moving the alias needs an admin token" }) },
  { additionalProperties: false },
);

/** core's ApiToken: a token as anyone may see it, without its secret. */
export const ApiToken = Type.Object({
  name: Type.String(),
  role: Role,
  createdAt: Timestamp,
  createdBy: Type.String(),
});
export const CreatedToken = Type.Object({
  token: Type.String({ description: "the bearer secret; shown this once, stored only hashed" }),
  ...ApiToken.properties,
});
export const TokenList = Type.Object({ items: Type.Array(ApiToken) });

/**
 * The answers every route may give besides its own: documented once, attached to each route. 401, 403 and
 * 429 come from the auth and rate-limit hooks, which run before any route.
 */
export const commonErrors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  429: ErrorBody,
  500: ErrorBody,
} as const;

export type PageQueryT = Static<typeof PageQuery>;
