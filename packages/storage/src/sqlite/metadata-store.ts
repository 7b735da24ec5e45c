/**
 * @module The SQLite metadata store (better-sqlite3, WAL): the embedded default behind core's MetadataStore.
 * Every write is one BEGIN IMMEDIATE transaction, so rules that must hold across processes (one version per
 * string, gapless sequence numbers, compare-and-set alias moves) are enforced by the database's write lock.
 */
import {
  type Alias,
  type AliasEvent,
  type AliasMove,
  type AliasResolution,
  type ApiToken,
  type Artifact,
  type ArtifactSummary,
  type AuditEvent,
  type AuditQuery,
  CairnError,
  conflict,
  highestVersion,
  invalid,
  type MetadataStore,
  type NewAuditEvent,
  type NewToken,
  type NewVersion,
  notFound,
  type Version,
  type VersionChange,
  type VersionSummary,
} from "@cairn/core";
import { Connection } from "./_connection.js";
import { isUniqueViolation, toCairnError } from "./_errors.js";
import { openDatabase } from "./_open.js";
import {
  ALIAS_EVENT_SELECT,
  ALIAS_SELECT,
  aliasTargetForMove,
  artifactRow,
  insertAliasEvent,
  insertAudit,
  insertVersionParts,
  loadVersion,
  loadVersionById,
  pointAlias,
  requireArtifact,
  VERSION_SELECT,
  versionCore,
  versionId,
} from "./_queries.js";
import {
  type AliasEventRow,
  type AliasRow,
  type ArtifactRow,
  type AuditRow,
  decodeMetric,
  type MetricRow,
  TOKEN_COLUMNS,
  type TokenRow,
  toAlias,
  toAliasEvent,
  toArtifact,
  toAuditEvent,
  toToken,
  type VersionRow,
} from "./_rows.js";
import { SqliteChunkIndex } from "./chunk-index.js";
import { SqliteLineageStore } from "./lineage-store.js";
import { SqliteSearchStore } from "./search-store.js";
import { SqliteRegistryTables } from "./table-copy.js";
import { SqliteTrackingStore } from "./tracking-store.js";

export class SqliteMetadataStore implements MetadataStore {
  readonly kind = "sqlite";
  private readonly c: Connection;
  private chunks: SqliteChunkIndex | undefined;
  private runs: SqliteTrackingStore | undefined;

  /** Use `openSqliteMetadataStore`, which opens and migrates the database first. */
  constructor(connection: Connection) {
    this.c = connection;
  }

  /** The database file. */
  get path(): string {
    return this.c.path;
  }

  async close(): Promise<void> {
    this.c.close();
  }

  changeMark(): string {
    return this.c.changeMark();
  }

  /** The chunk store's index, in this same database (so commits and GC serialise on one write lock). */
  chunkIndex(): SqliteChunkIndex {
    this.chunks ??= new SqliteChunkIndex(this.c);
    return this.chunks;
  }

  /** The edges of the lineage graph (data → run → version), for core's `walkLineage`. */
  lineage(): SqliteLineageStore {
    return new SqliteLineageStore(this.c);
  }

  /** Every registry table, read in one snapshot or loaded in one transaction, for `cairn migrate`. */
  tables(): SqliteRegistryTables {
    return new SqliteRegistryTables(this.c);
  }

  /** Search over versions and runs with the filter language of core's search module. */
  search(): SqliteSearchStore {
    return new SqliteSearchStore(this.c);
  }

  /** Runs and their metrics, in this same database (run artifacts are garbage-collection roots). */
  tracking(): SqliteTrackingStore {
    this.runs ??= new SqliteTrackingStore(this.c);
    return this.runs;
  }

  // ── artifacts ───────────────────────────────────────────────────────────────────────────────────────────

  getArtifact(name: string): Promise<Artifact | null> {
    return this.c.read(`cannot read artifact ${name}`, () => {
      const row = artifactRow(this.c, name);
      return row === undefined ? null : toArtifact(row);
    });
  }

  /**
   * Every artifact, by name. `updatedAt` is the latest of its creation, its newest version and its latest
   * alias move. `latestVersion` compares only the versions sharing the top MAJOR.MINOR.PATCH (found through
   * the precedence index), so it stays cheap at a million versions.
   */
  listArtifacts(): Promise<ArtifactSummary[]> {
    return this.c.read("cannot list artifacts", () => {
      const rows = this.c
        .sql<ArtifactRow & { version_count: number; updated_at: string }>(
          `SELECT a.id, a.name, a.type, a.created_at,
                (SELECT count(*) FROM versions v WHERE v.artifact_id = a.id) AS version_count,
                max(a.created_at,
                    coalesce((SELECT v.created_at FROM versions v WHERE v.artifact_id = a.id
                              ORDER BY v.seq DESC LIMIT 1), ''),
                    coalesce((SELECT max(e.at) FROM alias_events e WHERE e.artifact_id = a.id), '')) AS updated_at
         FROM artifacts a ORDER BY a.name`,
        )
        .all();
      // Two steps, each one index seek: the top MAJOR.MINOR.PATCH, then the versions that share it.
      const topCore = this.c.sql<{ major: number; minor: number; patch: number }>(
        `SELECT major, minor, patch FROM versions WHERE artifact_id = ?
         ORDER BY major DESC, minor DESC, patch DESC LIMIT 1`,
      );
      const withCore = this.c.sql<{ version: string }>(
        "SELECT version FROM versions WHERE artifact_id = ? AND major = ? AND minor = ? AND patch = ? ORDER BY seq",
      );
      const latest = (artifactId: number): string | null => {
        const top = topCore.get(artifactId);
        if (top === undefined) return null;
        return highestVersion(
          withCore.all(artifactId, top.major, top.minor, top.patch).map((v) => v.version),
        );
      };
      return rows.map((row) => ({
        ...toArtifact(row),
        versionCount: row.version_count,
        latestVersion: latest(row.id),
        updatedAt: row.updated_at,
      }));
    });
  }

  // ── versions ────────────────────────────────────────────────────────────────────────────────────────────

  createVersion(
    version: NewVersion,
    audit: NewAuditEvent,
    aliasAudit: (alias: string, from: string | null) => NewAuditEvent,
  ): Promise<Version> {
    const ref = `${version.artifact}@${version.version}`;
    return this.c.write(`cannot create ${ref}`, () => {
      const [major, minor, patch] = versionCore(version.version);
      let artifact = artifactRow(this.c, version.artifact);
      if (artifact !== undefined && artifact.type !== version.type) {
        throw conflict(`${version.artifact} is a ${artifact.type}, not a ${version.type}`);
      }
      if (artifact === undefined) {
        const result = this.c
          .sql("INSERT INTO artifacts (name, type, created_at) VALUES (?, ?, ?)")
          .run(version.artifact, version.type, version.createdAt);
        artifact = {
          id: Number(result.lastInsertRowid),
          name: version.artifact,
          type: version.type,
          created_at: version.createdAt,
        };
      }
      const artifactId = artifact.id;
      // Under the write lock no other transaction can take this number before we commit.
      const seq =
        this.c
          .sql<{ seq: number }>("SELECT coalesce(max(seq), 0) + 1 AS seq FROM versions WHERE artifact_id = ?")
          .get(artifactId)?.seq ?? 1;
      let versionId: number;
      try {
        const result = this.c
          .sql(
            `INSERT INTO versions (artifact_id, version, seq, created_at, created_by, params, notes, code,
                                 environment, run, base, major, minor, patch)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            artifactId,
            version.version,
            seq,
            version.createdAt,
            version.createdBy,
            JSON.stringify(version.params),
            version.notes,
            version.code === null ? null : JSON.stringify(version.code),
            version.environment === null ? null : JSON.stringify(version.environment),
            version.run,
            version.base ?? null,
            major,
            minor,
            patch,
          );
        versionId = Number(result.lastInsertRowid);
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`${ref} already exists; versions are immutable`);
        throw error;
      }

      insertVersionParts(this.c, versionId, version);
      insertAudit(this.c, audit);
      for (const alias of new Set(version.aliases)) {
        const from = aliasTargetForMove(
          this.c,
          artifactId,
          { artifact: version.artifact, alias },
          version.mayMoveProtected,
        );
        pointAlias(this.c, artifactId, alias, versionId, version.createdAt);
        insertAliasEvent(this.c, artifactId, {
          artifact: version.artifact,
          alias,
          action: "set",
          from,
          to: version.version,
          actor: version.createdBy,
          at: version.createdAt,
          reason: null,
        });
        insertAudit(this.c, aliasAudit(alias, from));
      }
      return loadVersionById(this.c, versionId);
    });
  }

  getVersion(artifact: string, version: string): Promise<Version | null> {
    return this.c.read(`cannot read ${artifact}@${version}`, () => {
      const row = this.c
        .sql<VersionRow>(`${VERSION_SELECT} WHERE a.name = ? AND v.version = ?`)
        .get(artifact, version);
      return row === undefined ? null : loadVersion(this.c, row);
    });
  }

  getVersionBySeq(artifact: string, seq: number): Promise<Version | null> {
    return this.c.read(`cannot read ${artifact}#${seq}`, () => {
      const row = this.c
        .sql<VersionRow>(`${VERSION_SELECT} WHERE a.name = ? AND v.seq = ?`)
        .get(artifact, seq);
      return row === undefined ? null : loadVersion(this.c, row);
    });
  }

  /** Three queries whatever the number of versions: the versions with their file totals, metrics, aliases. */
  listVersions(artifact: string): Promise<VersionSummary[]> {
    return this.c.read(`cannot list the versions of ${artifact}`, () => {
      const art = artifactRow(this.c, artifact);
      if (art === undefined) return [];
      const rows = this.c
        .sql<{
          id: number;
          version: string;
          seq: number;
          created_at: string;
          size: number;
          file_count: number;
        }>(
          `SELECT v.id, v.version, v.seq, v.created_at, coalesce(sum(f.size), 0) AS size, count(f.path) AS file_count
         FROM versions v LEFT JOIN version_files f ON f.version_id = v.id
         WHERE v.artifact_id = ? GROUP BY v.seq ORDER BY v.seq`,
        )
        .all(art.id);
      const byId = new Map<number, VersionSummary>();
      const summaries = rows.map((row) => {
        const summary: VersionSummary = {
          artifact: art.name,
          version: row.version,
          seq: row.seq,
          createdAt: row.created_at,
          size: row.size,
          fileCount: row.file_count,
          metrics: {},
          aliases: [],
        };
        byId.set(row.id, summary);
        return summary;
      });
      for (const m of this.c
        .sql<MetricRow & { version_id: number }>(
          `SELECT m.version_id, m.key, m.value, m.special
         FROM versions v JOIN version_metrics m ON m.version_id = v.id WHERE v.artifact_id = ?`,
        )
        .iterate(art.id)) {
        const summary = byId.get(m.version_id);
        if (summary) summary.metrics[m.key] = decodeMetric(m);
      }
      for (const a of this.c
        .sql<{ alias: string; version_id: number }>(
          "SELECT alias, version_id FROM aliases WHERE artifact_id = ? ORDER BY alias",
        )
        .iterate(art.id)) {
        byId.get(a.version_id)?.aliases.push(a.alias);
      }
      return summaries;
    });
  }

  updateVersion(
    artifact: string,
    version: string,
    change: VersionChange,
    audit: NewAuditEvent,
  ): Promise<Version> {
    return this.c.write(`cannot update ${artifact}@${version}`, () => {
      const art = requireArtifact(this.c, artifact);
      const id = versionId(this.c, art.id, version);
      if (id === undefined) throw notFound(`no version ${artifact}@${version}`);
      if (change.tags) {
        const setTag = this.c.sql(
          `INSERT INTO version_tags (version_id, key, value) VALUES (?, ?, ?)
           ON CONFLICT (version_id, key) DO UPDATE SET value = excluded.value`,
        );
        for (const [key, value] of Object.entries(change.tags.set)) setTag.run(id, key, value);
        const removeTag = this.c.sql("DELETE FROM version_tags WHERE version_id = ? AND key = ?");
        for (const key of change.tags.remove) removeTag.run(id, key);
      }
      if (change.notes !== undefined) {
        this.c.sql("UPDATE versions SET notes = ? WHERE id = ?").run(change.notes, id);
      }
      insertAudit(this.c, audit);
      return loadVersionById(this.c, id);
    });
  }

  // ── aliases ─────────────────────────────────────────────────────────────────────────────────────────────

  getAlias(artifact: string, alias: string): Promise<Alias | null> {
    return this.c.read(`cannot read ${artifact}@${alias}`, () => {
      const row = this.c
        .sql<AliasRow>(`${ALIAS_SELECT} WHERE a.name = ? AND al.alias = ?`)
        .get(artifact, alias);
      return row === undefined ? null : toAlias(row);
    });
  }

  resolveAlias(artifact: string, alias: string): Promise<AliasResolution> {
    return this.c.read(`cannot resolve ${artifact}@${alias}`, () => {
      const row = this.c
        .sql<VersionRow>(
          `${VERSION_SELECT} JOIN aliases al ON al.artifact_id = a.id AND al.version_id = v.id
           WHERE a.name = ? AND al.alias = ?`,
        )
        .get(artifact, alias);
      if (row !== undefined) return loadVersion(this.c, row);
      return artifactRow(this.c, artifact) === undefined ? "no-artifact" : "no-alias";
    });
  }

  listAliases(artifact: string): Promise<Alias[]> {
    return this.c.read(`cannot list the aliases of ${artifact}`, () =>
      this.c.sql<AliasRow>(`${ALIAS_SELECT} WHERE a.name = ? ORDER BY al.alias`).all(artifact).map(toAlias),
    );
  }

  moveAlias(move: AliasMove, audit: NewAuditEvent): Promise<AliasEvent> {
    const name = `${move.artifact}@${move.alias}`;
    return this.c.write(`cannot move ${name}`, () => {
      const art = requireArtifact(this.c, move.artifact);
      const from = aliasTargetForMove(this.c, art.id, move, move.mayMoveProtected);
      if (from !== move.expectedFrom) {
        throw conflict(
          `${name} points at ${from ?? "nothing"}, not ${move.expectedFrom ?? "nothing"}: someone moved it meanwhile`,
          { hint: "look at the alias again and retry" },
        );
      }
      if (move.to === null) {
        this.c.sql("DELETE FROM aliases WHERE artifact_id = ? AND alias = ?").run(art.id, move.alias);
      } else {
        const target = versionId(this.c, art.id, move.to);
        if (target === undefined) throw notFound(`no version ${move.artifact}@${move.to}`);
        pointAlias(this.c, art.id, move.alias, target, move.at);
      }
      const event = insertAliasEvent(this.c, art.id, {
        artifact: art.name,
        alias: move.alias,
        action: move.action,
        from,
        to: move.to,
        actor: move.actor,
        at: move.at,
        reason: move.reason,
      });
      insertAudit(this.c, audit);
      return event;
    });
  }

  setAliasProtection(
    artifact: string,
    alias: string,
    isProtected: boolean,
    audit: NewAuditEvent,
  ): Promise<Alias> {
    return this.c.write(`cannot change the protection of ${artifact}@${alias}`, () => {
      const art = requireArtifact(this.c, artifact);
      const result = this.c
        .sql("UPDATE aliases SET protected = ? WHERE artifact_id = ? AND alias = ?")
        .run(isProtected ? 1 : 0, art.id, alias);
      if (result.changes === 0) throw notFound(`${artifact} has no alias ${alias}`);
      insertAudit(this.c, audit);
      const row = this.c
        .sql<AliasRow>(`${ALIAS_SELECT} WHERE al.artifact_id = ? AND al.alias = ?`)
        .get(art.id, alias);
      if (row === undefined) throw new CairnError("INTERNAL", `alias ${artifact}@${alias} vanished`);
      return toAlias(row);
    });
  }

  aliasHistory(artifact: string, alias?: string): Promise<AliasEvent[]> {
    return this.c.read(`cannot read the alias history of ${artifact}`, () => {
      const rows =
        alias === undefined
          ? this.c.sql<AliasEventRow>(`${ALIAS_EVENT_SELECT} WHERE a.name = ? ORDER BY e.id`).all(artifact)
          : this.c
              .sql<AliasEventRow>(`${ALIAS_EVENT_SELECT} WHERE a.name = ? AND e.alias = ? ORDER BY e.id`)
              .all(artifact, alias);
      return rows.map(toAliasEvent);
    });
  }

  // ── tokens ──────────────────────────────────────────────────────────────────────────────────────────────

  createToken(token: NewToken, audit: NewAuditEvent): Promise<ApiToken> {
    return this.c.write(`cannot create token ${token.name}`, () => {
      try {
        this.c
          .sql(
            "INSERT INTO api_tokens (name, role, secret_sha256, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
          )
          .run(token.name, token.role, token.secretHash, token.createdAt, token.createdBy);
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`a token named ${token.name} already exists`);
        throw error;
      }
      insertAudit(this.c, audit);
      return { name: token.name, role: token.role, createdAt: token.createdAt, createdBy: token.createdBy };
    });
  }

  findTokenByHash(secretHash: string): Promise<ApiToken | null> {
    return this.c.readOne("cannot look up a token", () => {
      const row = this.c
        .sql<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE secret_sha256 = ?`)
        .get(secretHash);
      return row === undefined ? null : toToken(row);
    });
  }

  listTokens(): Promise<ApiToken[]> {
    return this.c.read("cannot list tokens", () =>
      this.c.sql<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM api_tokens ORDER BY name`).all().map(toToken),
    );
  }

  hasTokens(): Promise<boolean> {
    return this.c.readOne(
      "cannot count tokens",
      () => this.c.sql("SELECT 1 FROM api_tokens LIMIT 1").get() !== undefined,
    );
  }

  revokeToken(name: string, audit: (token: ApiToken) => NewAuditEvent): Promise<ApiToken> {
    return this.c.write(`cannot revoke token ${name}`, () => {
      const row = this.c
        .sql<TokenRow>(`DELETE FROM api_tokens WHERE name = ? RETURNING ${TOKEN_COLUMNS}`)
        .get(name);
      if (row === undefined) throw notFound(`no token named ${name}`, { hint: "see `cairn token list`" });
      const token = toToken(row);
      insertAudit(this.c, audit(token));
      return token;
    });
  }

  // ── audit and garbage collection ────────────────────────────────────────────────────────────────────────

  listAudit(query: AuditQuery): Promise<AuditEvent[]> {
    const { artifact, limit, beforeId } = query;
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
      return Promise.reject(invalid(`invalid audit limit ${limit}: give a whole number ≥ 0`));
    }
    if (beforeId !== undefined && !Number.isSafeInteger(beforeId)) {
      return Promise.reject(invalid(`invalid audit position ${beforeId}`));
    }
    return this.c.read("cannot read the audit log", () => {
      const where: string[] = [];
      const params: unknown[] = [];
      if (artifact !== undefined) {
        where.push("artifact = ?");
        params.push(artifact);
      }
      if (beforeId !== undefined) {
        where.push("id < ?");
        params.push(beforeId);
      }
      // LIMIT -1 is SQLite's "no limit", which keeps the statement text (and its cache entry) the same.
      params.push(limit ?? -1);
      return this.c
        .sql<AuditRow>(
          `SELECT id, at, actor, action, artifact, target, before, after FROM audit_events
         ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`,
        )
        .all(...params)
        .map(toAuditEvent);
    });
  }

  listLiveContent(): Promise<Set<string>> {
    return this.c.read("cannot list live content", () => {
      const live = new Set<string>();
      for (const row of this.c.sql<{ sha256: string }>("SELECT sha256 FROM live_content").iterate()) {
        live.add(row.sha256);
      }
      return live;
    });
  }
}

/** Opens (creating and migrating when needed) the SQLite metadata database at `path`. */
export async function openSqliteMetadataStore(path: string): Promise<SqliteMetadataStore> {
  try {
    return new SqliteMetadataStore(new Connection(openDatabase(path), path));
  } catch (error) {
    throw toCairnError(error, `cannot open the metadata database ${String(path)}`);
  }
}
