/**
 * @module The statements the SQLite store's methods share: looking up artifacts and versions, loading a whole
 * version, recording audit and alias events. They run inside the caller's transaction.
 */
import {
  type AliasEvent,
  CairnError,
  type FileEntry,
  invalid,
  type NewAuditEvent,
  type NewVersion,
  notFound,
  protectedAliasDenied,
  type Version,
} from "@cairn/core";
import type { Connection } from "./_connection.js";
import { isUniqueViolation } from "./_errors.js";
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
} from "./_rows.js";

export const VERSION_SELECT = `
  SELECT v.id, a.name AS artifact, a.type, v.version, v.seq, v.created_at, v.created_by, v.params, v.notes,
         v.code, v.environment, v.run, v.base
  FROM versions v JOIN artifacts a ON a.id = v.artifact_id`;

export const ALIAS_SELECT = `
  SELECT a.name AS artifact, al.alias, v.version, al.protected, al.updated_at
  FROM aliases al JOIN artifacts a ON a.id = al.artifact_id JOIN versions v ON v.id = al.version_id`;

export const ALIAS_EVENT_SELECT = `
  SELECT e.id, a.name AS artifact, e.alias, e.action, e.from_version, e.to_version, e.actor, e.at, e.reason
  FROM alias_events e JOIN artifacts a ON a.id = e.artifact_id`;

const SEMVER_CORE = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:[-+]|$)/;

/** MAJOR, MINOR and PATCH of a semver string (core has checked it; this guards the index columns). */
export function versionCore(version: string): [number, number, number] {
  const match = SEMVER_CORE.exec(version);
  const parts = match ? [Number(match[1]), Number(match[2]), Number(match[3])] : [];
  if (parts.length !== 3 || !parts.every(Number.isSafeInteger)) {
    throw invalid(`invalid version ${JSON.stringify(version)}: not a semver 2.0 version`);
  }
  return parts as [number, number, number];
}

export function artifactRow(c: Connection, name: string): ArtifactRow | undefined {
  return c.sql<ArtifactRow>("SELECT id, name, type, created_at FROM artifacts WHERE name = ?").get(name);
}

export function requireArtifact(c: Connection, name: string): ArtifactRow {
  const row = artifactRow(c, name);
  if (row === undefined) throw notFound(`no artifact named ${name}`);
  return row;
}

export function versionId(c: Connection, artifactId: number, version: string): number | undefined {
  return c
    .sql<{ id: number }>("SELECT id FROM versions WHERE artifact_id = ? AND version = ?")
    .get(artifactId, version)?.id;
}

export function insertAudit(c: Connection, event: NewAuditEvent): void {
  c.sql(
    `INSERT INTO audit_events (at, actor, action, artifact, target, before, after)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    event.at,
    event.actor,
    event.action,
    event.artifact,
    event.target,
    jsonText(event.before),
    jsonText(event.after),
  );
}

/**
 * The version an alias points at now, or null when the alias does not exist, read inside a move's write
 * transaction. A protected alias is refused here when the caller may not move one (core decides who may;
 * under the write lock, a protect that committed before the move is always seen).
 */
export function aliasTargetForMove(
  c: Connection,
  artifactId: number,
  name: { artifact: string; alias: string },
  mayMoveProtected = true,
): string | null {
  const row = c
    .sql<{ version: string; protected: number }>(
      `SELECT v.version, al.protected FROM aliases al JOIN versions v ON v.id = al.version_id
       WHERE al.artifact_id = ? AND al.alias = ?`,
    )
    .get(artifactId, name.alias);
  if (row?.protected === 1 && !mayMoveProtected) throw protectedAliasDenied(`${name.artifact}@${name.alias}`);
  return row?.version ?? null;
}

export function pointAlias(
  c: Connection,
  artifactId: number,
  alias: string,
  versionId: number,
  at: string,
): void {
  // An existing alias keeps its protection: moving it does not unprotect it.
  c.sql(
    `INSERT INTO aliases (artifact_id, alias, version_id, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (artifact_id, alias) DO UPDATE SET version_id = excluded.version_id, updated_at = excluded.updated_at`,
  ).run(artifactId, alias, versionId, at);
}

export function insertAliasEvent(
  c: Connection,
  artifactId: number,
  event: Omit<AliasEvent, "id">,
): AliasEvent {
  const result = c
    .sql(
      `INSERT INTO alias_events (artifact_id, alias, action, from_version, to_version, actor, at, reason)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(artifactId, event.alias, event.action, event.from, event.to, event.actor, event.at, event.reason);
  return { id: Number(result.lastInsertRowid), ...event };
}

export function loadVersion(c: Connection, row: VersionRow): Version {
  const files = c
    .sql<FileEntry>("SELECT path, size, mode, sha256 FROM version_files WHERE version_id = ? ORDER BY path")
    .all(row.id);
  const metrics: Record<string, number> = {};
  for (const m of c
    .sql<MetricRow>("SELECT key, value, special FROM version_metrics WHERE version_id = ?")
    .iterate(row.id)) {
    metrics[m.key] = decodeMetric(m);
  }
  const tags: Record<string, string> = {};
  for (const t of c
    .sql<{ key: string; value: string }>("SELECT key, value FROM version_tags WHERE version_id = ?")
    .iterate(row.id)) {
    tags[t.key] = t.value;
  }
  const data = c
    .sql<{ ref: string }>("SELECT ref FROM version_data WHERE version_id = ? ORDER BY rowid")
    .all(row.id)
    .map((d) => d.ref);
  const aliases = c
    .sql<{ alias: string }>("SELECT alias FROM aliases WHERE version_id = ? ORDER BY alias")
    .all(row.id)
    .map((a) => a.alias);
  return {
    artifact: row.artifact,
    type: row.type,
    version: row.version,
    seq: row.seq,
    createdAt: row.created_at,
    createdBy: row.created_by,
    files,
    params: parseJson(row.params),
    metrics,
    tags,
    notes: row.notes,
    data,
    code: parseCode(row.code),
    environment: parseObject(row.environment),
    run: row.run,
    base: row.base,
    aliases,
  };
}

export function loadVersionById(c: Connection, id: number): Version {
  const row = c.sql<VersionRow>(`${VERSION_SELECT} WHERE v.id = ?`).get(id);
  if (row === undefined)
    throw new CairnError("INTERNAL", `version row ${id} vanished inside its transaction`);
  return loadVersion(c, row);
}

/** A new version's files, metrics, tags and data links. */
export function insertVersionParts(c: Connection, versionId: number, version: NewVersion): void {
  const insertFile = c.sql(
    "INSERT INTO version_files (version_id, path, size, mode, sha256) VALUES (?, ?, ?, ?, ?)",
  );
  for (const file of version.files) {
    try {
      insertFile.run(versionId, file.path, file.size, file.mode, file.sha256);
    } catch (error) {
      if (isUniqueViolation(error)) throw invalid(`file ${file.path} is given twice`);
      throw error;
    }
  }
  const insertMetric = c.sql(
    "INSERT INTO version_metrics (version_id, key, value, special) VALUES (?, ?, ?, ?)",
  );
  for (const [key, value] of Object.entries(version.metrics)) {
    const stored = encodeMetric(value);
    insertMetric.run(versionId, key, stored.value, stored.special);
  }
  const insertTag = c.sql("INSERT INTO version_tags (version_id, key, value) VALUES (?, ?, ?)");
  for (const [key, value] of Object.entries(version.tags)) insertTag.run(versionId, key, value);
  const insertData = c.sql("INSERT OR IGNORE INTO version_data (version_id, ref) VALUES (?, ?)");
  for (const dataRef of version.data) insertData.run(versionId, dataRef);
}
