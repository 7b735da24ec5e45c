/**
 * @module The records a user holds in hand: artifacts, versions, files, aliases and their history, audit events,
 * API tokens.
 */
import type { Role } from "./auth.js";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const ARTIFACT_TYPES = ["model", "dataset"] as const;
export type ArtifactType = (typeof ARTIFACT_TYPES)[number];

export interface Artifact {
  name: string;
  type: ArtifactType;
  createdAt: string;
}

export interface ArtifactSummary extends Artifact {
  versionCount: number;
  /** Highest version by semver precedence, or null when it has none. */
  latestVersion: string | null;
  updatedAt: string;
}

/** One file of a version. `sha256` names its content in the content store. */
export interface FileEntry {
  /** Relative POSIX path inside the version, normalised (see `normaliseFilePath`). */
  path: string;
  size: number;
  /** Unix permission bits (e.g. 0o644); the executable bit survives a pull. */
  mode: number;
  sha256: string;
}

/** Where the code that made a version came from. */
export interface CodeInfo {
  remote: string | null;
  branch: string | null;
  commit: string;
  dirty: boolean;
  /** sha256 of the uncommitted diff of tracked files, stored in the content store; null when clean. */
  patch: string | null;
  /** Path of the pushed files relative to the repository root, when they were inside it. */
  path: string | null;
}

export interface Version {
  artifact: string;
  type: ArtifactType;
  /** A semver 2.0 string, unique per artifact. */
  version: string;
  /** Per-artifact sequence number 1, 2, 3 … (MLflow-style version number). */
  seq: number;
  createdAt: string;
  createdBy: string;
  files: FileEntry[];
  params: JsonObject;
  metrics: Record<string, number>;
  tags: Record<string, string>;
  notes: string;
  /** Exact refs (`name@version`) of the data this version was made from. */
  data: string[];
  code: CodeInfo | null;
  environment: JsonObject | null;
  /** The tracking run that produced it, if any. */
  run: string | null;
  /** The exact version (`name@version`) it was derived from (`--base`), if any: a lineage edge of kind base. */
  base: string | null;
  /** Aliases currently pointing at this version. */
  aliases: string[];
}

export interface VersionSummary {
  artifact: string;
  version: string;
  seq: number;
  createdAt: string;
  size: number;
  fileCount: number;
  metrics: Record<string, number>;
  aliases: string[];
}

export interface Alias {
  artifact: string;
  alias: string;
  version: string;
  protected: boolean;
  updatedAt: string;
}

export type AliasAction = "set" | "remove" | "rollback";

/** One move of an alias. History is linear: each event's `from` is the previous event's `to`. */
export interface AliasEvent {
  id: number;
  artifact: string;
  alias: string;
  action: AliasAction;
  from: string | null;
  to: string | null;
  actor: string;
  at: string;
  reason: string | null;
}

export interface AuditEvent {
  id: number;
  at: string;
  actor: string;
  action: string;
  artifact: string | null;
  target: string;
  before: Json;
  after: Json;
}

export type NewAuditEvent = Omit<AuditEvent, "id">;

/** An API token as anyone may see it: never its secret, which exists only in the hands of its holder. */
export interface ApiToken {
  /** Unique; the actor recorded for everything done with the token. */
  name: string;
  role: Role;
  createdAt: string;
  createdBy: string;
}

// ── experiment tracking ─────────────────────────────────────────────────────────────────────────────────────

export const RUN_STATUSES = ["running", "finished", "failed", "killed"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** One logged value of a metric. NaN and ±Infinity are kept as they are (a diverged run is worth seeing). */
export interface MetricPoint {
  key: string;
  value: number;
  step: number;
  /** Milliseconds since the Unix epoch, when the value was measured. */
  timestamp: number;
}

/** A tracking run: one training or evaluation attempt, with what went in and what came out. */
export interface Run {
  /** Short, unique and time-ordered (ids sort by start time): see `newRunId`. */
  id: string;
  experiment: string;
  name: string;
  status: RunStatus;
  startTime: string;
  /** Null while running. */
  endTime: string | null;
  createdBy: string;
  /** Write-once per key. */
  params: JsonObject;
  /** The last value of each metric (highest step; the latest logged on a tie). */
  metrics: Record<string, number>;
  tags: Record<string, string>;
  /** Exact refs (`name@version`) of the dataset versions it read, resolved when it started. */
  data: string[];
  /**
   * Where each of `data` sat in the working tree, relative to the repository root (`--data REF=PATH`; else
   * `data/<name>`): where `cairn reproduce` puts it back. Runs recorded before paths were kept have none.
   */
  dataPaths: Record<string, string>;
  /** Files logged by the run, stored in the content store like a version's files. */
  artifacts: FileEntry[];
  code: CodeInfo | null;
  /** Runtime versions and `lockFiles`: lock file name → sha256 of its content in the content store. */
  environment: JsonObject | null;
  /** The command that ran it, when recorded. */
  command: string | null;
  /** Versions made from it (`name@version`), oldest first. */
  outputs: string[];
}

export interface RunSummary {
  id: string;
  experiment: string;
  name: string;
  status: RunStatus;
  startTime: string;
  endTime: string | null;
  metrics: Record<string, number>;
}
