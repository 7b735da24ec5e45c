/**
 * @module The statements the PostgreSQL store's methods share: looking up artifacts and versions, loading a
 * whole version in one round trip, recording audit and alias events, writing a new version's parts with one
 * multi-row insert each. They run inside the caller's transaction. Rows convert to core's records with the
 * SQLite driver's converters (the columns are selected in the shapes those expect), so both drivers hand
 * back the same records.
 */
import {
  type AliasEvent,
  CairnError,
  invalid,
  type NewAuditEvent,
  type NewVersion,
  notFound,
  protectedAliasDenied,
  type Version,
} from "@cairn/core";
import {
  type ArtifactRow,
  decodeMetric,
  encodeMetric,
  jsonText,
  type MetricRow,
  parseCode,
  parseJson,
  parseObject,
  type VersionRow,
} from "../sqlite/_rows.js";
import type { Sql } from "./_database.js";
import { isUniqueViolation, violatedConstraint } from "./_errors.js";
import { ALIAS_LOCK } from "./_locks.js";

export const ALIAS_SELECT = `
  SELECT a.name AS artifact, al.alias, v.version, al.protected::int AS protected, al.updated_at
  FROM aliases al JOIN artifacts a ON a.id = al.artifact_id JOIN versions v ON v.id = al.version_id`;

export const ALIAS_EVENT_SELECT = `
  SELECT e.id, a.name AS artifact, e.alias, e.action, e.from_version, e.to_version, e.actor, e.at, e.reason
  FROM alias_events e JOIN artifacts a ON a.id = e.artifact_id`;

/** A metric as json_agg hands it over: PostgreSQL writes infinite doubles in JSON as strings. */
type MetricJson = [key: string, value: number | string | null, special: MetricRow["special"]];

/** A metrics object from [key, value, special] triples. */
export function metricsOf(triples: MetricJson[]): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const [key, value, special] of triples) {
    metrics[key] = decodeMetric({ value: value === null ? null : Number(value), special });
  }
  return metrics;
}

/** [key, value, special] triples of one version's metrics, by key, as JSON (see `metricsOf`). */
export const METRICS_JSON = (versionId: string) => `
  coalesce((SELECT json_agg(json_build_array(m.key, m.value, m.special) ORDER BY m.key)
            FROM version_metrics m WHERE m.version_id = ${versionId}), '[]')`;

/** Its aliases' names, sorted, as JSON. */
export const ALIASES_JSON = (versionId: string) => `
  coalesce((SELECT json_agg(al.alias ORDER BY al.alias) FROM aliases al WHERE al.version_id = ${versionId}), '[]')`;

/**
 * A whole version in one statement: the columns of the SQLite driver's VersionRow (JSON as text) plus its
 * files, metrics, tags, data links and aliases as JSON aggregates.
 */
const VERSION_SELECT = `
  SELECT v.id, a.name AS artifact, a.type, v.version, v.seq, v.created_at, v.created_by, v.params::text AS params,
         v.notes, v.code::text AS code, v.environment::text AS environment, v.run, v.base,
         coalesce((SELECT json_agg(json_build_object('path', f.path, 'size', f.size, 'mode', f.mode,
                                                     'sha256', f.sha256) ORDER BY f.path)
                   FROM version_files f WHERE f.version_id = v.id), '[]') AS files,
         ${METRICS_JSON("v.id")} AS metrics,
         coalesce((SELECT json_object_agg(t.key, t.value ORDER BY t.key) FROM version_tags t
                   WHERE t.version_id = v.id), '{}') AS tags,
         coalesce((SELECT json_agg(d.ref ORDER BY d.ord) FROM version_data d WHERE d.version_id = v.id), '[]')
           AS data,
         ${ALIASES_JSON("v.id")} AS aliases
  FROM versions v JOIN artifacts a ON a.id = v.artifact_id`;

type LoadedVersionRow = VersionRow & {
  files: Version["files"];
  metrics: MetricJson[];
  tags: Record<string, string>;
  data: string[];
  aliases: string[];
};

const toVersion = (row: LoadedVersionRow): Version => ({
  artifact: row.artifact,
  type: row.type,
  version: row.version,
  seq: row.seq,
  createdAt: row.created_at,
  createdBy: row.created_by,
  files: row.files,
  params: parseJson(row.params),
  metrics: metricsOf(row.metrics),
  tags: row.tags,
  notes: row.notes,
  data: row.data,
  code: parseCode(row.code),
  environment: parseObject(row.environment),
  run: row.run,
  base: row.base,
  aliases: row.aliases,
});

/** One version, by a condition on `v` and `a` (its parameters from $1). */
export async function findVersion(
  sql: Pick<Sql, "maybe">,
  where: string,
  values: unknown[],
): Promise<Version | null> {
  const row = await sql.maybe<LoadedVersionRow>(`${VERSION_SELECT} WHERE ${where}`, values);
  return row === undefined ? null : toVersion(row);
}

export async function loadVersionById(sql: Sql, id: number): Promise<Version> {
  const version = await findVersion(sql, "v.id = $1", [id]);
  if (version === null) throw new CairnError("INTERNAL", `version row ${id} vanished inside its transaction`);
  return version;
}

export function artifactRow(sql: Pick<Sql, "maybe">, name: string): Promise<ArtifactRow | undefined> {
  return sql.maybe<ArtifactRow>("SELECT id, name, type, created_at FROM artifacts WHERE name = $1", [name]);
}

export async function requireArtifact(sql: Sql, name: string): Promise<ArtifactRow> {
  const row = await artifactRow(sql, name);
  if (row === undefined) throw notFound(`no artifact named ${name}`);
  return row;
}

export async function versionId(sql: Sql, artifactId: number, version: string): Promise<number | undefined> {
  return (
    await sql.maybe<{ id: number }>("SELECT id FROM versions WHERE artifact_id = $1 AND version = $2", [
      artifactId,
      version,
    ])
  )?.id;
}

export async function insertAudit(sql: Sql, event: NewAuditEvent): Promise<void> {
  await sql.run(
    `INSERT INTO audit_events (at, actor, action, artifact, target, before, after)
     VALUES ($1, $2, $3, $4, $5, $6::json, $7::json)`,
    [
      event.at,
      event.actor,
      event.action,
      event.artifact,
      event.target,
      jsonText(event.before),
      jsonText(event.after),
    ],
  );
}

/**
 * Takes the alias's lock for the rest of the transaction, then reads where it points now (null when it does not
 * exist). Whoever changes the alias next waits for this transaction and then reads what it left.
 */
export async function lockAliasTarget(
  sql: Sql,
  artifactId: number,
  name: { artifact: string; alias: string },
  mayMoveProtected = true,
): Promise<string | null> {
  await sql.run(ALIAS_LOCK, [artifactId, name.alias]);
  // FOR UPDATE: a protect in flight on this row (it takes the row lock, not the alias lock) finishes first,
  // and its flag is what this read sees; core's rule is then enforced against the row this move holds.
  const row = await sql.maybe<{ version: string; protected: boolean }>(
    `SELECT v.version, al.protected FROM aliases al JOIN versions v ON v.id = al.version_id
     WHERE al.artifact_id = $1 AND al.alias = $2 FOR UPDATE OF al`,
    [artifactId, name.alias],
  );
  if (row?.protected === true && !mayMoveProtected)
    throw protectedAliasDenied(`${name.artifact}@${name.alias}`);
  return row?.version ?? null;
}

export async function pointAlias(
  sql: Sql,
  artifactId: number,
  alias: string,
  versionId: number,
  at: string,
): Promise<void> {
  // An existing alias keeps its protection: moving it does not unprotect it.
  await sql.run(
    `INSERT INTO aliases (artifact_id, alias, version_id, updated_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (artifact_id, alias) DO UPDATE SET version_id = excluded.version_id, updated_at = excluded.updated_at`,
    [artifactId, alias, versionId, at],
  );
}

export async function insertAliasEvent(
  sql: Sql,
  artifactId: number,
  event: Omit<AliasEvent, "id">,
): Promise<AliasEvent> {
  const row = await sql.maybe<{ id: number }>(
    `INSERT INTO alias_events (artifact_id, alias, action, from_version, to_version, actor, at, reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
    [artifactId, event.alias, event.action, event.from, event.to, event.actor, event.at, event.reason],
  );
  return { id: row!.id, ...event };
}

/** A new version's files, metrics, tags and data links: one multi-row insert (arrays unnested) each. */
export async function insertVersionParts(sql: Sql, versionId: number, version: NewVersion): Promise<void> {
  const { files } = version;
  if (files.length > 0) {
    try {
      await sql.run(
        `INSERT INTO version_files (version_id, path, size, mode, sha256)
         SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::integer[], $5::text[])`,
        [
          versionId,
          files.map((f) => f.path),
          files.map((f) => f.size),
          files.map((f) => f.mode),
          files.map((f) => f.sha256),
        ],
      );
    } catch (error) {
      if (isUniqueViolation(error) && violatedConstraint(error) === "version_files_pkey") {
        const seen = new Set<string>();
        const twice = files.find((f) => seen.size === seen.add(f.path).size)?.path;
        throw invalid(`file ${twice ?? "(unknown)"} is given twice`);
      }
      throw error;
    }
  }
  const metrics = Object.entries(version.metrics).map(([key, value]) => ({ key, ...encodeMetric(value) }));
  if (metrics.length > 0) {
    await sql.run(
      `INSERT INTO version_metrics (version_id, key, value, special)
       SELECT $1, * FROM unnest($2::text[], $3::double precision[], $4::text[])`,
      [versionId, metrics.map((m) => m.key), metrics.map((m) => m.value), metrics.map((m) => m.special)],
    );
  }
  const tags = Object.entries(version.tags);
  if (tags.length > 0) {
    await sql.run(
      "INSERT INTO version_tags (version_id, key, value) SELECT $1, * FROM unnest($2::text[], $3::text[])",
      [versionId, tags.map(([key]) => key), tags.map(([, value]) => value)],
    );
  }
  if (version.data.length > 0) {
    // A ref given twice is kept once, at its first place (as SQLite's INSERT OR IGNORE does).
    await sql.run(
      `INSERT INTO version_data (version_id, ord, ref)
       SELECT $1, d.ord, d.ref FROM unnest($2::text[]) WITH ORDINALITY AS d (ref, ord)
       ORDER BY d.ord ON CONFLICT (version_id, ref) DO NOTHING`,
      [versionId, version.data],
    );
  }
}
