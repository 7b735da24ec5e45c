/**
 * @module The shapes the API answers with: core's own types (a version as `cairn show --json` prints it, alias
 * events, audit events, statistics), plus pages. Metrics come back as numbers, NaN and ±Infinity included.
 */
import {
  type Alias,
  type ApiToken,
  type ArtifactSummary,
  type JsonMetric,
  type MetricDelta,
  metricFromJson,
  type VersionDiff,
  type VersionSummary,
  type VersionView,
} from "@cairn/core";

export type {
  Alias,
  AliasEvent,
  ApiToken,
  ArtifactSummary,
  AuditEvent,
  GcReport,
  Role,
  StatsView,
  VerifyView,
  VersionDiff,
  VersionSummary,
  VersionView,
} from "@cairn/core";

/** One page of a list; pass `nextCursor` back as `cursor` for the next one (null on the last). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PageOptions {
  /** Items per page, 1–1000 (the server's default: 100). */
  limit?: number;
  cursor?: string;
}

export interface ArtifactDetail extends ArtifactSummary {
  aliases: Alias[];
}

export interface CreatedToken extends ApiToken {
  /** The bearer secret: shown this once, stored by the server only hashed. */
  token: string;
}

/** A remote upload session, as the server answers it. */
export interface UploadSessionView {
  id: string;
  startedAt: string;
  heartbeatAt: string;
  idleSeconds: number;
  /** Whether the server names files left without a sha256 (absent from servers that cannot). */
  namesFiles?: boolean;
}

// Non-finite values arrive as core's JSON encoding ("NaN", "Infinity", "-Infinity").
const metric = (value: unknown): number => metricFromJson(value as JsonMetric);
const nullableMetric = (value: unknown): number | null => (value === null ? null : metric(value));

function reviveMetrics(metrics: Record<string, unknown>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).map(([key, value]) => [key, metric(value)]));
}

/** Turns the strings JSON carries non-finite metrics as back into numbers. */
export function reviveVersion<T extends VersionView | VersionSummary>(version: T): T {
  return { ...version, metrics: reviveMetrics(version.metrics) };
}

export function reviveDiff(diff: VersionDiff): VersionDiff {
  const metrics: Record<string, MetricDelta> = {};
  for (const [key, m] of Object.entries(diff.metrics)) {
    metrics[key] = { a: nullableMetric(m.a), b: nullableMetric(m.b), delta: nullableMetric(m.delta) };
  }
  return { ...diff, metrics };
}
