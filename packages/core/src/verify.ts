/**
 * @module What `cairn verify` reports, here or against a server: one version's files re-read and checked, or a
 * whole-store check (every pack re-read) shaped into the same view. Which file counts as damaged is decided
 * here once; the embedded CLI and the server's maintenance route both answer with this view.
 */
import { isCairnError } from "./errors.js";
import { exactRef } from "./refs.js";
import type { Registry } from "./registry.js";

/** A damaged file, named by the exact version that holds it. */
export interface DamagedFileView {
  ref: string;
  path: string;
  /** Why, for a one-version check (the store-wide check knows only which chunks failed). */
  message?: string;
}

export interface VerifyView {
  /** "store", or the exact version checked. */
  scope: string;
  ok: boolean;
  /** packs and chunks for the store; files for one version; bytes read either way. */
  checked: { packs?: number; chunks?: number; files?: number; bytes: number };
  damaged: DamagedFileView[];
  /** Packs the index names but the blob store lacks. */
  missingPacks: string[];
}

/** A file by version and path, as the chunk index names the users of a bad chunk. */
interface FileAt {
  artifact: string;
  version: string;
  path: string;
}

/** The chunk store's whole-store check (storage's verifyStore), as the view `cairn verify` prints. */
export function viewStoreVerify(report: {
  packs: number;
  chunks: number;
  bytes: number;
  damagedChunks: number;
  missingPacks: string[];
  damagedFiles: FileAt[];
  incompleteFiles: FileAt[];
}): VerifyView {
  return {
    scope: "store",
    // A damaged chunk no version uses still makes the store unhealthy.
    ok: report.damagedFiles.length + report.incompleteFiles.length + report.damagedChunks === 0,
    checked: { packs: report.packs, chunks: report.chunks, bytes: report.bytes },
    damaged: [...report.damagedFiles, ...report.incompleteFiles].map((f) => ({
      ref: exactRef(f.artifact, f.version),
      path: f.path,
    })),
    missingPacks: report.missingPacks,
  };
}

/** Re-reads every file of the version `ref` names; a file that fails its hashes is listed, not thrown. */
export async function verifyVersion(registry: Registry, ref: string): Promise<VerifyView> {
  const version = await registry.resolve(ref);
  const scope = exactRef(version.artifact, version.version);
  const damaged: DamagedFileView[] = [];
  let bytes = 0;
  for (const file of version.files) {
    try {
      await registry.content.verify(file, { label: `${version.artifact}@${version.version}: ${file.path}` });
      bytes += file.size;
    } catch (error) {
      if (!isCairnError(error, "INTEGRITY")) throw error;
      damaged.push({ ref: scope, path: file.path, message: error.message });
    }
  }
  return {
    scope,
    ok: damaged.length === 0,
    checked: { files: version.files.length, bytes },
    damaged,
    missingPacks: [],
  };
}
