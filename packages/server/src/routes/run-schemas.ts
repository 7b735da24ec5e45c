/**
 * @module The TypeBox schemas of the run routes: what a client sends to start, log to, end and promote a run,
 * and the shapes of a run, a run list and a metric history page. Metric values travel as core's JSON
 * encoding (numbers, or "NaN", "Infinity", "-Infinity").
 */
import { BUMPS, MAX_BATCH_POINTS, MAX_HISTORY_PAGE, RUN_STATUSES } from "@cairn/core";
import { Type } from "typebox";
import { MAX_PAGE, MetricValue, Nullable } from "../schemas.js";
import { CodeInfo, Sha256 } from "./transfer-schemas.js";

const MAX_TEXT = 4096;
const RunId = Type.String({
  pattern: "^[0-9a-z]{16}$",
  description: "a run id, as `POST /runs` answered it",
});
const AnyJson = Type.Unknown({ description: "any JSON value" });
const JsonObject = Type.Record(Type.String(), AnyJson);
const Labels = Type.Record(Type.String(), Type.String(), { maxProperties: 1000 });
const Status = Type.Union(
  [Type.Literal("running"), Type.Literal("finished"), Type.Literal("failed"), Type.Literal("killed")],
  { description: RUN_STATUSES.join(" | ") },
);
const Timestamp = Type.String({ description: "ISO 8601 time, UTC" });
const Sha256Map = Type.Record(Type.String(), Sha256);

export const RunParams = Type.Object({ id: RunId });

export const RunListQuery = Type.Object({
  experiment: Type.Optional(Type.String({ maxLength: 200 })),
  status: Type.Optional(Status),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 100 })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});

export const HistoryQuery = Type.Object({
  key: Type.String({ minLength: 1, maxLength: 250, description: "the metric's name" }),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_HISTORY_PAGE, default: 10_000 })),
  cursor: Type.Optional(Type.String({ maxLength: 100 })),
});

export const StartRunBody = Type.Object(
  {
    experiment: Type.Optional(Type.String({ maxLength: 200, description: 'default "default"' })),
    name: Type.Optional(Type.String({ maxLength: 200 })),
    params: Type.Optional(JsonObject),
    tags: Type.Optional(Labels),
    data: Type.Optional(
      Type.Array(
        Type.Union([
          Type.String({ maxLength: 5000, description: "REF, or REF=PATH" }),
          Type.Object(
            {
              ref: Type.String({ maxLength: 600 }),
              path: Type.Optional(Type.String({ maxLength: MAX_TEXT })),
            },
            { additionalProperties: false },
          ),
        ]),
        {
          maxItems: 1000,
          description:
            "data versions read, each with where it sits relative to the repository root (default data/NAME)",
        },
      ),
    ),
    code: Type.Optional(Nullable(CodeInfo)),
    environment: Type.Optional(Nullable(JsonObject)),
    lockFiles: Type.Optional(Sha256Map),
    command: Type.Optional(Nullable(Type.String({ maxLength: MAX_TEXT }))),
    upload: Type.Optional(
      Type.String({ maxLength: 100, description: "the upload session the patch and lock files came in" }),
    ),
  },
  { additionalProperties: false },
);

export const MetricPointBody = Type.Object(
  {
    key: Type.String({ maxLength: 250 }),
    value: MetricValue,
    step: Type.Optional(Type.Integer({ description: "default 0" })),
    timestamp: Type.Optional(
      Type.Integer({ minimum: 0, description: "ms since 1970; default: when received" }),
    ),
  },
  { additionalProperties: false },
);

export const MetricSeriesBody = Type.Object(
  {
    key: Type.String({ maxLength: 250 }),
    steps: Type.Array(Type.Integer(), { maxItems: MAX_BATCH_POINTS }),
    values: Type.Array(MetricValue, { maxItems: MAX_BATCH_POINTS }),
    timestamps: Type.Optional(Type.Array(Type.Integer({ minimum: 0 }), { maxItems: MAX_BATCH_POINTS })),
  },
  {
    additionalProperties: false,
    description: "one metric's points as parallel arrays: the compact form for big batches",
  },
);

export const LogBody = Type.Object(
  {
    params: Type.Optional(JsonObject),
    metrics: Type.Optional(Type.Array(MetricPointBody, { maxItems: MAX_BATCH_POINTS })),
    series: Type.Optional(Type.Array(MetricSeriesBody, { maxItems: MAX_BATCH_POINTS })),
    tags: Type.Optional(Labels),
  },
  { additionalProperties: false },
);

export const LogAnswer = Type.Object({ points: Type.Integer({ description: "metric points recorded" }) });

const FileBody = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: MAX_TEXT }),
    size: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    sha256: Sha256,
    mode: Type.Optional(Type.String({ pattern: "^0?[0-7]{3}$", description: "octal, default 0644" })),
  },
  { additionalProperties: false },
);
const UploadId = Type.String({ maxLength: 100, description: "the upload session the contents came in" });

export const ArtifactsBody = Type.Object(
  { upload: Type.Optional(UploadId), files: Type.Array(FileBody, { minItems: 1, maxItems: 100_000 }) },
  { additionalProperties: false },
);

export const EndBody = Type.Object({ status: Type.Optional(Status) }, { additionalProperties: false });

export const PromoteBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, description: "the model's name" }),
    version: Type.Optional(Type.String({ maxLength: 300 })),
    bump: Type.Optional(Type.Union(BUMPS.map((b) => Type.Literal(b)))),
    upload: Type.Optional(UploadId),
    files: Type.Optional(
      Type.Array(FileBody, { minItems: 1, maxItems: 100_000, description: "default: the run's artifacts" }),
    ),
    notes: Type.Optional(Type.String({ maxLength: 256 * 1024 })),
    tags: Type.Optional(Labels),
    aliases: Type.Optional(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 100 })),
    base: Type.Optional(
      Type.String({ maxLength: 600, description: "a ref of the model it derives from, stored exact" }),
    ),
  },
  { additionalProperties: false },
);

const FileView = Type.Object({
  path: Type.String(),
  size: Type.Integer(),
  sha256: Type.String(),
  mode: Type.String(),
});

export const RunSummary = Type.Object({
  id: Type.String(),
  experiment: Type.String(),
  name: Type.String(),
  status: Status,
  startTime: Timestamp,
  endTime: Nullable(Timestamp),
  metrics: Type.Record(Type.String(), MetricValue, { description: "each metric's last value" }),
});

export const RunView = Type.Object({
  ...RunSummary.properties,
  createdBy: Type.String(),
  params: JsonObject,
  tags: Labels,
  data: Type.Array(Type.String()),
  dataPaths: Type.Record(Type.String(), Type.String(), {
    description: "where each data version sat, relative to the repository root",
  }),
  artifacts: Type.Array(FileView),
  code: Nullable(CodeInfo),
  environment: Nullable(JsonObject),
  command: Nullable(Type.String()),
  outputs: Type.Array(Type.String(), { description: "versions made from the run" }),
});
export const RunPage = Type.Object({ items: Type.Array(RunSummary), nextCursor: Nullable(Type.String()) });

export const HistoryPage = Type.Object({
  points: Type.Array(
    Type.Object({ key: Type.String(), value: MetricValue, step: Type.Integer(), timestamp: Type.Integer() }),
  ),
  nextCursor: Nullable(Type.String()),
});
