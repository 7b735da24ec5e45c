/**
 * @module How records look to a user in JSON: a version as `cairn show --json` prints it and the API answers it,
 * and the storage report of `cairn stats`. Pure, and kept in core so the CLI (embedded or remote) and the
 * server answer with the same shape.
 */
import type { StorageStats } from "./ports/chunks.js";
import type { Version } from "./types.js";

export interface VersionView {
  name: string;
  version: string;
  seq: number;
  type: string;
  createdAt: string;
  createdBy: string;
  size: number;
  /** `mode` as four octal digits ("0644"), the way people read permissions. */
  files: Array<{ path: string; size: number; sha256: string; mode: string }>;
  params: Version["params"];
  metrics: Version["metrics"];
  tags: Version["tags"];
  aliases: string[];
  notes: string;
  data: string[];
  code: Version["code"];
  environment: Version["environment"];
  run: string | null;
  /** The exact version it was derived from, if any. */
  base: string | null;
}

export function viewVersion(v: Version): VersionView {
  return {
    name: v.artifact,
    version: v.version,
    seq: v.seq,
    type: v.type,
    createdAt: v.createdAt,
    createdBy: v.createdBy,
    size: v.files.reduce((sum, f) => sum + f.size, 0),
    files: v.files.map((f) => ({
      path: f.path,
      size: f.size,
      sha256: f.sha256,
      mode: f.mode.toString(8).padStart(4, "0"),
    })),
    params: v.params,
    metrics: v.metrics,
    tags: v.tags,
    aliases: v.aliases,
    notes: v.notes,
    data: v.data,
    code: v.code,
    environment: v.environment,
    run: v.run,
    base: v.base,
  };
}

export interface ArtifactStatsView extends StorageStats {
  /** logical ÷ stored; null when nothing is stored. */
  dedupRatio: number | null;
}

export interface StatsView {
  artifacts: ArtifactStatsView[];
  /** The whole store (or the one artifact asked for), with the bytes its packs take on disk. */
  overall: (ArtifactStatsView & { packBytes: number }) | null;
}

const dedupRatio = (s: StorageStats): number | null =>
  s.storedBytes === 0 ? null : s.logicalBytes / s.storedBytes;

/** Shapes ChunkIndex.stats rows (per artifact plus one with artifact null) into the `cairn stats` report. */
export function viewStats(rows: readonly StorageStats[], packBytes: number): StatsView {
  const overall = rows.find((r) => r.artifact === null);
  return {
    artifacts: rows.filter((r) => r.artifact !== null).map((r) => ({ ...r, dedupRatio: dedupRatio(r) })),
    overall: overall ? { ...overall, packBytes, dedupRatio: dedupRatio(overall) } : null,
  };
}

/** What a garbage collection removed (or, with dryRun, would remove): what `cairn gc` prints, here or remote. */
export interface GcReport {
  dryRun: boolean;
  /** Pushes in flight, whose chunks were kept. */
  liveSessions: number;
  contentsRemoved: number;
  chunksRemoved: number;
  packsRemoved: number;
  packsRewritten: number;
  orphanPacksRemoved: number;
  /** Bytes of pack objects freed (or that would be, with dryRun). */
  bytesReclaimed: number;
  packBytesBefore: number;
  packBytesAfter: number;
}
