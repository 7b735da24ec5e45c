/**
 * @module The PostgreSQL metadata store (`pg`): what N stateless `cairn serve` processes share. Every rule that
 * must hold across processes lives in the database: unique (artifact, version) and (artifact, seq)
 * constraints; the next sequence number taken under a row lock on the artifact; alias moves compare-and-set
 * under a per-alias advisory lock; garbage collection serialised with commits by an advisory lock.
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
import { versionCore } from "../sqlite/_queries.js";
import {
  type AliasEventRow,
  type AliasRow,
  type ArtifactRow,
  type AuditRow,
  TOKEN_COLUMNS,
  type TokenRow,
  toAlias,
  toAliasEvent,
  toArtifact,
  toAuditEvent,
  toToken,
} from "../sqlite/_rows.js";
import { Database, type DatabaseOptions } from "./_database.js";
import { isUniqueViolation } from "./_errors.js";
import { GC_LOCK_SHARED } from "./_locks.js";
import { migrate } from "./_migrate.js";
import {
  ALIAS_EVENT_SELECT,
  ALIAS_SELECT,
  ALIASES_JSON,
  artifactRow,
  findVersion,
  insertAliasEvent,
  insertAudit,
  insertVersionParts,
  loadVersionById,
  lockAliasTarget,
  METRICS_JSON,
  metricsOf,
  pointAlias,
  requireArtifact,
  versionId,
} from "./_queries.js";
import { PostgresChunkIndex } from "./chunk-index.js";
import { PostgresLineageStore } from "./lineage-store.js";
import { PostgresSearchStore } from "./search-store.js";
import { PostgresRegistryTables } from "./table-copy.js";
import { PostgresTrackingStore } from "./tracking-store.js";

export class PostgresMetadataStore implements MetadataStore {
  readonly kind = "postgres";
  private readonly db: Database;
  private chunks: PostgresChunkIndex | undefined;
  private runs: PostgresTrackingStore | undefined;

  /** Use `openPostgresMetadataStore`, which connects and migrates the database first. */
  constructor(db: Database) {
    this.db = db;
  }

  /** The edges of the lineage graph (data → run → version), for core's `walkLineage`. */
  lineage(): PostgresLineageStore {
    return new PostgresLineageStore(this.db);
  }

  /** Every registry table, read in one snapshot or loaded with COPY in one transaction, for `cairn migrate`. */
  tables(): PostgresRegistryTables {
    return new PostgresRegistryTables(this.db);
  }

  /** Search over versions and runs with the filter language of core's search module. */
  search(): PostgresSearchStore {
    return new PostgresSearchStore(this.db);
  }

  /** Runs and their metrics, in this same database (run artifacts are garbage-collection roots). */
  tracking(): PostgresTrackingStore {
    this.runs ??= new PostgresTrackingStore(this.db);
    return this.runs;
  }

  /** host:port/database, never the credentials. */
  get where(): string {
    return this.db.where;
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /** The chunk store's index, in this same database (so commits and GC serialise on its locks). */
  chunkIndex(): PostgresChunkIndex {
    this.chunks ??= new PostgresChunkIndex(this.db);
    return this.chunks;
  }

  // ── artifacts ───────────────────────────────────────────────────────────────────────────────────────────

  async getArtifact(name: string): Promise<Artifact | null> {
    const row = await artifactRow(this.db.pooled(`cannot read artifact ${name}`), name);
    return row === undefined ? null : toArtifact(row);
  }

  /**
   * Every artifact, by name, in one statement. `updatedAt` is the latest of its creation, its newest version
   * and its latest alias move. `latestVersion` compares only the versions sharing the top MAJOR.MINOR.PATCH
   * (found through the precedence index), so it stays cheap at a million versions.
   */
  async listArtifacts(): Promise<ArtifactSummary[]> {
    const rows = await this.db.query<
      ArtifactRow & { version_count: number; updated_at: string; top: string[] | null }
    >(
      "cannot list artifacts",
      `SELECT a.id, a.name, a.type, a.created_at,
              (SELECT count(*) FROM versions v WHERE v.artifact_id = a.id) AS version_count,
              greatest(a.created_at,
                       (SELECT v.created_at FROM versions v WHERE v.artifact_id = a.id ORDER BY v.seq DESC LIMIT 1),
                       (SELECT max(e.at) FROM alias_events e WHERE e.artifact_id = a.id)) AS updated_at,
              (SELECT array_agg(v.version ORDER BY v.seq) FROM versions v
               WHERE v.artifact_id = a.id AND (v.major, v.minor, v.patch) = (
                 SELECT t.major, t.minor, t.patch FROM versions t WHERE t.artifact_id = a.id
                 ORDER BY t.major DESC, t.minor DESC, t.patch DESC LIMIT 1)) AS top
       FROM artifacts a ORDER BY a.name`,
    );
    return rows.map((row) => ({
      ...toArtifact(row),
      versionCount: row.version_count,
      latestVersion: highestVersion(row.top ?? []),
      updatedAt: row.updated_at,
    }));
  }

  // ── versions ────────────────────────────────────────────────────────────────────────────────────────────

  createVersion(
    version: NewVersion,
    audit: NewAuditEvent,
    aliasAudit: (alias: string, from: string | null) => NewAuditEvent,
  ): Promise<Version> {
    const ref = `${version.artifact}@${version.version}`;
    return this.db.write(`cannot create ${ref}`, async (sql) => {
      const [major, minor, patch] = versionCore(version.version);
      // A version commit never runs during a garbage-collection sweep (see GC_LOCK_SHARED).
      await sql.run(GC_LOCK_SHARED);
      // Creates the artifact unless it exists (waiting for a creator that has not committed yet), then locks
      // its row: versions of one artifact are numbered one transaction at a time. NO KEY UPDATE, not UPDATE:
      // it must not block the key-share locks that foreign-key checks take (an alias move inserting its
      // event), or a move holding the alias lock and a create waiting for it would deadlock.
      await sql.run(
        "INSERT INTO artifacts (name, type, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        [version.artifact, version.type, version.createdAt],
      );
      const artifact = await sql.maybe<ArtifactRow>(
        "SELECT id, name, type, created_at FROM artifacts WHERE name = $1 FOR NO KEY UPDATE",
        [version.artifact],
      );
      if (artifact === undefined) throw new CairnError("INTERNAL", `artifact ${version.artifact} vanished`);
      if (artifact.type !== version.type) {
        throw conflict(`${version.artifact} is a ${artifact.type}, not a ${version.type}`);
      }
      let created: { id: number };
      try {
        created = (await sql.maybe<{ id: number }>(
          `INSERT INTO versions (artifact_id, version, seq, created_at, created_by, params, notes, code,
                                 environment, run, base, major, minor, patch)
           SELECT $1, $2, coalesce(max(seq), 0) + 1, $3, $4, $5::json, $6, $7::json, $8::json, $9, $10, $11, $12,
                  $13
           FROM versions WHERE artifact_id = $1
           RETURNING id`,
          [
            artifact.id,
            version.version,
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
          ],
        ))!;
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`${ref} already exists; versions are immutable`);
        throw error;
      }
      await insertVersionParts(sql, created.id, version);
      await insertAudit(sql, audit);
      // Sorted, so two transactions pointing the same aliases take their locks in the same order.
      for (const alias of [...new Set(version.aliases)].sort()) {
        const from = await lockAliasTarget(
          sql,
          artifact.id,
          { artifact: version.artifact, alias },
          version.mayMoveProtected,
        );
        await pointAlias(sql, artifact.id, alias, created.id, version.createdAt);
        await insertAliasEvent(sql, artifact.id, {
          artifact: version.artifact,
          alias,
          action: "set",
          from,
          to: version.version,
          actor: version.createdBy,
          at: version.createdAt,
          reason: null,
        });
        await insertAudit(sql, aliasAudit(alias, from));
      }
      return loadVersionById(sql, created.id);
    });
  }

  getVersion(artifact: string, version: string): Promise<Version | null> {
    const sql = this.db.pooled(`cannot read ${artifact}@${version}`);
    return findVersion(sql, "a.name = $1 AND v.version = $2", [artifact, version]);
  }

  getVersionBySeq(artifact: string, seq: number): Promise<Version | null> {
    if (!Number.isSafeInteger(seq)) return Promise.resolve(null);
    return findVersion(this.db.pooled(`cannot read ${artifact}#${seq}`), "a.name = $1 AND v.seq = $2", [
      artifact,
      seq,
    ]);
  }

  /** One statement whatever the number of versions: each with its file totals, metrics and aliases. */
  async listVersions(artifact: string): Promise<VersionSummary[]> {
    const rows = await this.db.query<{
      version: string;
      seq: number;
      created_at: string;
      size: number;
      file_count: number;
      metrics: Parameters<typeof metricsOf>[0];
      aliases: string[];
    }>(
      `cannot list the versions of ${artifact}`,
      `SELECT v.version, v.seq, v.created_at,
              coalesce(f.size, 0) AS size, coalesce(f.file_count, 0) AS file_count,
              ${METRICS_JSON("v.id")} AS metrics, ${ALIASES_JSON("v.id")} AS aliases
       FROM versions v JOIN artifacts a ON a.id = v.artifact_id
       LEFT JOIN LATERAL (SELECT sum(size)::bigint AS size, count(*) AS file_count
                          FROM version_files WHERE version_id = v.id) f ON true
       WHERE a.name = $1 ORDER BY v.seq`,
      [artifact],
    );
    return rows.map((row) => ({
      artifact,
      version: row.version,
      seq: row.seq,
      createdAt: row.created_at,
      size: row.size,
      fileCount: row.file_count,
      metrics: metricsOf(row.metrics),
      aliases: row.aliases,
    }));
  }

  updateVersion(
    artifact: string,
    version: string,
    change: VersionChange,
    audit: NewAuditEvent,
  ): Promise<Version> {
    return this.db.write(`cannot update ${artifact}@${version}`, async (sql) => {
      const art = await requireArtifact(sql, artifact);
      const id = await versionId(sql, art.id, version);
      if (id === undefined) throw notFound(`no version ${artifact}@${version}`);
      if (change.tags) {
        const set = Object.entries(change.tags.set);
        if (set.length > 0) {
          await sql.run(
            `INSERT INTO version_tags (version_id, key, value) SELECT $1, * FROM unnest($2::text[], $3::text[])
             ON CONFLICT (version_id, key) DO UPDATE SET value = excluded.value`,
            [id, set.map(([key]) => key), set.map(([, value]) => value)],
          );
        }
        if (change.tags.remove.length > 0) {
          await sql.run("DELETE FROM version_tags WHERE version_id = $1 AND key = ANY($2::text[])", [
            id,
            change.tags.remove,
          ]);
        }
      }
      if (change.notes !== undefined) {
        await sql.run("UPDATE versions SET notes = $1 WHERE id = $2", [change.notes, id]);
      }
      await insertAudit(sql, audit);
      return loadVersionById(sql, id);
    });
  }

  // ── aliases ─────────────────────────────────────────────────────────────────────────────────────────────

  async getAlias(artifact: string, alias: string): Promise<Alias | null> {
    const [row] = await this.db.query<AliasRow>(
      `cannot read ${artifact}@${alias}`,
      `${ALIAS_SELECT} WHERE a.name = $1 AND al.alias = $2`,
      [artifact, alias],
    );
    return row === undefined ? null : toAlias(row);
  }

  /**
   * The version an alias points at in one statement (the server's hottest read): three round trips before.
   * Only a miss costs a second one, to say whether the artifact or the alias is missing.
   */
  async resolveAlias(artifact: string, alias: string): Promise<AliasResolution> {
    const sql = this.db.pooled(`cannot resolve ${artifact}@${alias}`);
    const found = await findVersion(
      sql,
      "a.name = $1 AND v.id = (SELECT al.version_id FROM aliases al WHERE al.artifact_id = a.id AND al.alias = $2)",
      [artifact, alias],
    );
    if (found !== null) return found;
    return (await artifactRow(sql, artifact)) === undefined ? "no-artifact" : "no-alias";
  }

  async listAliases(artifact: string): Promise<Alias[]> {
    const rows = await this.db.query<AliasRow>(
      `cannot list the aliases of ${artifact}`,
      `${ALIAS_SELECT} WHERE a.name = $1 ORDER BY al.alias`,
      [artifact],
    );
    return rows.map(toAlias);
  }

  moveAlias(move: AliasMove, audit: NewAuditEvent): Promise<AliasEvent> {
    const name = `${move.artifact}@${move.alias}`;
    return this.db.write(`cannot move ${name}`, async (sql) => {
      const art = await requireArtifact(sql, move.artifact);
      const from = await lockAliasTarget(sql, art.id, move, move.mayMoveProtected);
      if (from !== move.expectedFrom) {
        throw conflict(
          `${name} points at ${from ?? "nothing"}, not ${move.expectedFrom ?? "nothing"}: someone moved it meanwhile`,
          { hint: "look at the alias again and retry" },
        );
      }
      if (move.to === null) {
        await sql.run("DELETE FROM aliases WHERE artifact_id = $1 AND alias = $2", [art.id, move.alias]);
      } else {
        const target = await versionId(sql, art.id, move.to);
        if (target === undefined) throw notFound(`no version ${move.artifact}@${move.to}`);
        await pointAlias(sql, art.id, move.alias, target, move.at);
      }
      const event = await insertAliasEvent(sql, art.id, {
        artifact: art.name,
        alias: move.alias,
        action: move.action,
        from,
        to: move.to,
        actor: move.actor,
        at: move.at,
        reason: move.reason,
      });
      await insertAudit(sql, audit);
      return event;
    });
  }

  setAliasProtection(
    artifact: string,
    alias: string,
    isProtected: boolean,
    audit: NewAuditEvent,
  ): Promise<Alias> {
    return this.db.write(`cannot change the protection of ${artifact}@${alias}`, async (sql) => {
      const art = await requireArtifact(sql, artifact);
      const changed = await sql.run(
        "UPDATE aliases SET protected = $1 WHERE artifact_id = $2 AND alias = $3",
        [isProtected, art.id, alias],
      );
      if (changed === 0) throw notFound(`${artifact} has no alias ${alias}`);
      await insertAudit(sql, audit);
      const row = await sql.maybe<AliasRow>(`${ALIAS_SELECT} WHERE al.artifact_id = $1 AND al.alias = $2`, [
        art.id,
        alias,
      ]);
      if (row === undefined) throw new CairnError("INTERNAL", `alias ${artifact}@${alias} vanished`);
      return toAlias(row);
    });
  }

  async aliasHistory(artifact: string, alias?: string): Promise<AliasEvent[]> {
    const doing = `cannot read the alias history of ${artifact}`;
    const rows =
      alias === undefined
        ? await this.db.query<AliasEventRow>(doing, `${ALIAS_EVENT_SELECT} WHERE a.name = $1 ORDER BY e.id`, [
            artifact,
          ])
        : await this.db.query<AliasEventRow>(
            doing,
            `${ALIAS_EVENT_SELECT} WHERE a.name = $1 AND e.alias = $2 ORDER BY e.id`,
            [artifact, alias],
          );
    return rows.map(toAliasEvent);
  }

  // ── tokens ──────────────────────────────────────────────────────────────────────────────────────────────

  createToken(token: NewToken, audit: NewAuditEvent): Promise<ApiToken> {
    return this.db.write(`cannot create token ${token.name}`, async (sql) => {
      try {
        await sql.run(
          "INSERT INTO api_tokens (name, role, secret_sha256, created_at, created_by) VALUES ($1, $2, $3, $4, $5)",
          [token.name, token.role, token.secretHash, token.createdAt, token.createdBy],
        );
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`a token named ${token.name} already exists`);
        throw error;
      }
      await insertAudit(sql, audit);
      return { name: token.name, role: token.role, createdAt: token.createdAt, createdBy: token.createdBy };
    });
  }

  async findTokenByHash(secretHash: string): Promise<ApiToken | null> {
    const [row] = await this.db.query<TokenRow>(
      "cannot look up a token",
      `SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE secret_sha256 = $1`,
      [secretHash],
    );
    return row === undefined ? null : toToken(row);
  }

  async listTokens(): Promise<ApiToken[]> {
    const rows = await this.db.query<TokenRow>(
      "cannot list tokens",
      `SELECT ${TOKEN_COLUMNS} FROM api_tokens ORDER BY name`,
    );
    return rows.map(toToken);
  }

  async hasTokens(): Promise<boolean> {
    return (await this.db.query("cannot count tokens", "SELECT 1 FROM api_tokens LIMIT 1")).length > 0;
  }

  revokeToken(name: string, audit: (token: ApiToken) => NewAuditEvent): Promise<ApiToken> {
    return this.db.write(`cannot revoke token ${name}`, async (sql) => {
      const row = await sql.maybe<TokenRow>(
        `DELETE FROM api_tokens WHERE name = $1 RETURNING ${TOKEN_COLUMNS}`,
        [name],
      );
      if (row === undefined) throw notFound(`no token named ${name}`, { hint: "see `cairn token list`" });
      const token = toToken(row);
      await insertAudit(sql, audit(token));
      return token;
    });
  }

  // ── audit and garbage collection ────────────────────────────────────────────────────────────────────────

  async listAudit(query: AuditQuery): Promise<AuditEvent[]> {
    const { artifact, limit, beforeId } = query;
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
      throw invalid(`invalid audit limit ${limit}: give a whole number ≥ 0`);
    }
    if (beforeId !== undefined && !Number.isSafeInteger(beforeId)) {
      throw invalid(`invalid audit position ${beforeId}`);
    }
    const where: string[] = [];
    const values: unknown[] = [];
    if (artifact !== undefined) {
      values.push(artifact);
      where.push(`artifact = $${values.length}`);
    }
    if (beforeId !== undefined) {
      values.push(beforeId);
      where.push(`id < $${values.length}`);
    }
    // LIMIT NULL is no limit, which keeps the statement text (and its prepared statement) the same.
    values.push(limit ?? null);
    const rows = await this.db.query<AuditRow>(
      "cannot read the audit log",
      `SELECT id, at, actor, action, artifact, target, before::text AS before, after::text AS after
       FROM audit_events ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY id DESC LIMIT $${values.length}`,
      values,
    );
    return rows.map(toAuditEvent);
  }

  async listLiveContent(): Promise<Set<string>> {
    const rows = await this.db.query<{ sha256: string }>(
      "cannot list live content",
      "SELECT sha256 FROM live_content",
    );
    return new Set(rows.map((row) => row.sha256));
  }
}

export interface PostgresStoreOptions extends Pick<DatabaseOptions, "poolSize" | "connectTimeoutMs"> {
  /** A `postgres://` (or `postgresql://`) connection URL. */
  url: string;
}

const MAX_POOL_SIZE = 100;

/** Connects to PostgreSQL at `options.url` and brings its schema up to date. */
export async function openPostgresMetadataStore(
  options: PostgresStoreOptions,
): Promise<PostgresMetadataStore> {
  const { url, poolSize } = options;
  if (typeof url !== "string" || !/^postgres(ql)?:\/\/./.test(url)) {
    throw invalid("the PostgreSQL metadata store needs a postgres:// URL", {
      hint: "for example postgres://user:password@host:5432/cairn",
    });
  }
  if (
    poolSize !== undefined &&
    (!Number.isSafeInteger(poolSize) || poolSize < 1 || poolSize > MAX_POOL_SIZE)
  ) {
    throw invalid(`invalid PostgreSQL pool size ${poolSize}: give a whole number from 1 to ${MAX_POOL_SIZE}`);
  }
  const db = await Database.connect(options);
  try {
    await migrate(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  return new PostgresMetadataStore(db);
}
