/**
 * @module Row shapes of the SQLite schema and their conversion to and from core's records.
 */
import type {
  Alias,
  AliasAction,
  AliasEvent,
  ApiToken,
  Artifact,
  ArtifactType,
  AuditEvent,
  CodeInfo,
  Json,
  JsonObject,
  Role,
} from "@cairn/core";

export interface ArtifactRow {
  id: number;
  name: string;
  type: ArtifactType;
  created_at: string;
}

export interface VersionRow {
  id: number;
  artifact: string;
  type: ArtifactType;
  version: string;
  seq: number;
  created_at: string;
  created_by: string;
  params: string;
  notes: string;
  code: string | null;
  environment: string | null;
  run: string | null;
  base: string | null;
}

export interface MetricRow {
  key: string;
  value: number | null;
  special: "NaN" | "-0" | null;
}

export interface AliasRow {
  artifact: string;
  alias: string;
  version: string;
  protected: 0 | 1;
  updated_at: string;
}

export interface AliasEventRow {
  id: number;
  artifact: string;
  alias: string;
  action: AliasAction;
  from_version: string | null;
  to_version: string | null;
  actor: string;
  at: string;
  reason: string | null;
}

export interface AuditRow {
  id: number;
  at: string;
  actor: string;
  action: string;
  artifact: string | null;
  target: string;
  before: string;
  after: string;
}

export const toArtifact = (row: ArtifactRow): Artifact => ({
  name: row.name,
  type: row.type,
  createdAt: row.created_at,
});

/** A metric as stored: SQLite cannot hold NaN (it becomes NULL) nor -0 (it becomes 0), so those are spelled out. */
export function encodeMetric(value: number): { value: number | null; special: "NaN" | "-0" | null } {
  if (Number.isNaN(value)) return { value: null, special: "NaN" };
  if (Object.is(value, -0)) return { value: 0, special: "-0" };
  return { value, special: null };
}

export function decodeMetric(row: Pick<MetricRow, "value" | "special">): number {
  if (row.special === "NaN") return Number.NaN;
  if (row.special === "-0") return -0;
  return row.value ?? Number.NaN;
}

export const parseJson = <T extends Json>(text: string): T => JSON.parse(text) as T;

export const parseObject = (text: string | null): JsonObject | null =>
  text === null ? null : parseJson<JsonObject>(text);

export const parseCode = (text: string | null): CodeInfo | null =>
  text === null ? null : (JSON.parse(text) as CodeInfo);

export const toAlias = (row: AliasRow): Alias => ({
  artifact: row.artifact,
  alias: row.alias,
  version: row.version,
  protected: row.protected === 1,
  updatedAt: row.updated_at,
});

export const toAliasEvent = (row: AliasEventRow): AliasEvent => ({
  id: row.id,
  artifact: row.artifact,
  alias: row.alias,
  action: row.action,
  from: row.from_version,
  to: row.to_version,
  actor: row.actor,
  at: row.at,
  reason: row.reason,
});

export const toAuditEvent = (row: AuditRow): AuditEvent => ({
  id: row.id,
  at: row.at,
  actor: row.actor,
  action: row.action,
  artifact: row.artifact,
  target: row.target,
  before: parseJson(row.before),
  after: parseJson(row.after),
});

/** JSON text for a Json value; `undefined` (an absent before/after) is stored as null. */
export const jsonText = (value: Json | undefined): string => JSON.stringify(value ?? null);

export interface TokenRow {
  name: string;
  role: Role;
  created_at: string;
  created_by: string;
}

export const TOKEN_COLUMNS = "name, role, created_at, created_by";

export const toToken = (row: TokenRow): ApiToken => ({
  name: row.name,
  role: row.role,
  createdAt: row.created_at,
  createdBy: row.created_by,
});
