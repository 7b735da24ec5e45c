/**
 * @module The metadata store interface. Drivers (SQLite, PostgreSQL) implement it; every rule that needs
 * atomicity across processes (unique versions, linear alias history) is enforced by the driver's database,
 * through transactions and unique constraints, never by process memory.
 */
import type { LineageEdgeSource } from "../lineage/walk.js";
import type {
  Alias,
  AliasAction,
  AliasEvent,
  ApiToken,
  Artifact,
  ArtifactSummary,
  ArtifactType,
  AuditEvent,
  NewAuditEvent,
  Version,
  VersionSummary,
} from "../types.js";

/** A version as core hands it to the driver; the driver assigns `seq`. */
export type NewVersion = Omit<Version, "seq" | "aliases" | "base"> & {
  /** Aliases to point at the new version in the same transaction. */
  aliases: string[];
  /** The exact version it derives from; absent means none. */
  base?: string | null;
  /** See `AliasMove.mayMoveProtected`; applies to each of `aliases`. */
  mayMoveProtected?: boolean;
};

/**
 * One alias move, applied only if the alias still points at `expectedFrom` (null: the alias must not exist).
 * A mismatch is CONFLICT, so two concurrent moves can never both win from the same starting point.
 */
export interface AliasMove {
  artifact: string;
  alias: string;
  action: AliasAction;
  expectedFrom: string | null;
  /** null removes the alias. */
  to: string | null;
  actor: string;
  at: string;
  reason: string | null;
  /**
   * Whether the caller may move a protected alias (core decides, from the caller's role; absent means yes).
   * When not, the driver reads the flag on the alias row it locked for the move and throws
   * `protectedAliasDenied`, so a protect that commits before the move's transaction is always honoured.
   */
  mayMoveProtected?: boolean;
}

export interface VersionChange {
  tags?: { set: Record<string, string>; remove: string[] };
  notes?: string;
}

export interface AuditQuery {
  artifact?: string;
  limit?: number;
  /** Only events with a smaller id (for paging newest-first). */
  beforeId?: number;
}

/** A token as the driver stores it: its secret only as the hex sha256 of the token, never the token. */
export interface NewToken extends ApiToken {
  secretHash: string;
}

/** What an alias names, read in one snapshot: the version, or which part of `name@alias` is missing. */
export type AliasResolution = Version | "no-artifact" | "no-alias";

export interface MetadataStore {
  /** Which driver this is, for messages (`sqlite`, `postgres`). */
  readonly kind: string;
  close(): Promise<void>;

  /**
   * Optional: a mark that differs whenever anything has been committed to the store since it was last read,
   * by this process or any other. An answer computed after reading the mark stays right for as long as the
   * mark reads the same, so a caller may keep it that long. Drivers without a cheap mark leave this out.
   */
  changeMark?(): string;

  /** Optional: the edges of the lineage graph, for `walkLineage`. Drivers without it cannot answer lineage. */
  lineage?(): LineageEdgeSource;

  getArtifact(name: string): Promise<Artifact | null>;
  listArtifacts(): Promise<ArtifactSummary[]>;

  /**
   * Atomically: creates the artifact if it is new (an existing one of another type is CONFLICT), inserts
   * the version with the next sequence number, points `aliases` at it, and records the audit events.
   * An existing version string is CONFLICT and changes nothing.
   */
  createVersion(
    version: NewVersion,
    audit: NewAuditEvent,
    aliasAudit: (alias: string, from: string | null) => NewAuditEvent,
  ): Promise<Version>;
  getVersion(artifact: string, version: string): Promise<Version | null>;
  getVersionBySeq(artifact: string, seq: number): Promise<Version | null>;
  /** All versions of an artifact, in sequence order. */
  listVersions(artifact: string): Promise<VersionSummary[]>;
  /** Edits the mutable parts of a version (tags, notes) and records the audit event in one transaction. */
  updateVersion(
    artifact: string,
    version: string,
    change: VersionChange,
    audit: NewAuditEvent,
  ): Promise<Version>;

  getAlias(artifact: string, alias: string): Promise<Alias | null>;
  /**
   * Optional: the artifact, the alias and the version it points at in one read (the hottest lookup a server
   * makes). Without it core's `resolveRef` makes the three reads itself.
   */
  resolveAlias?(artifact: string, alias: string): Promise<AliasResolution>;
  listAliases(artifact: string): Promise<Alias[]>;
  /** Compare-and-set move of one alias, with its history event and audit event, in one transaction. */
  moveAlias(move: AliasMove, audit: NewAuditEvent): Promise<AliasEvent>;
  /** Marks an alias protected or not (moving a protected alias needs admin). */
  setAliasProtection(
    artifact: string,
    alias: string,
    isProtected: boolean,
    audit: NewAuditEvent,
  ): Promise<Alias>;
  /** The alias's moves, oldest first. */
  aliasHistory(artifact: string, alias?: string): Promise<AliasEvent[]>;

  /** Audit events, newest first. */
  listAudit(query: AuditQuery): Promise<AuditEvent[]>;

  /** Records a token and its audit event in one transaction; a name (or secret) already in use is CONFLICT. */
  createToken(token: NewToken, audit: NewAuditEvent): Promise<ApiToken>;
  /** The token whose secret hashes to `secretHash`, or null. */
  findTokenByHash(secretHash: string): Promise<ApiToken | null>;
  /** Every token, by name. */
  listTokens(): Promise<ApiToken[]>;
  /** Whether any token exists: while none does, a server on loopback runs open. */
  hasTokens(): Promise<boolean>;
  /**
   * Deletes the token named `name` (its secret stops working at once) and records the audit event built
   * from it, in one transaction; an unknown name is NOT_FOUND.
   */
  revokeToken(name: string, audit: (token: ApiToken) => NewAuditEvent): Promise<ApiToken>;

  /** sha256 of every file and patch referenced by any version: the roots of garbage collection. */
  listLiveContent(): Promise<Set<string>>;
}

export type { ArtifactType };
