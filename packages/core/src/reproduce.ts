/**
 * @module Reproduction: where a run's data versions sat in its working tree (`--data imdb@2.1.0=data/imdb`),
 * and the plan `cairn reproduce` follows to rebuild that tree — the code at the recorded commit with its
 * uncommitted patch, each data version at its path, the params and the command — and the name of the hidden
 * folder it builds in, which tells a killed run's leftovers from a live one's. Pure; the CLI does the I/O.
 */
import { invalid, notFound } from "./errors.js";
import type { Machine } from "./gc.js";
import { normaliseFilePath } from "./paths.js";
import { parseRef } from "./refs.js";
import type { CodeInfo, JsonObject, Run } from "./types.js";
import type { VersionView } from "./views.js";

/** A data version a run reads, and where it sits relative to the repository root (default `data/<name>`). */
export interface DataInput {
  ref: string;
  path?: string;
}

/** Where a data version goes when no path was given: `data/<name>` under the repository root. */
export function defaultDataPath(ref: string): string {
  return `data/${parseRef(ref).name}`;
}

/**
 * `REF` or `REF=PATH`, as `--data` takes it. The ref ends at the first `=` that cannot belong to a semver
 * range: ranges only put `=` after `<`, `>`, `=`, a space or the `@` itself (`imdb@>=2.0`, `imdb@=2.1.0`).
 */
export function parseDataInput(text: string): DataInput {
  for (let i = 1; i < text.length; i++) {
    if (text[i] === "=" && !"@<>= ".includes(text[i - 1] ?? "")) {
      return { ref: text.slice(0, i), path: text.slice(i + 1) };
    }
  }
  return { ref: text };
}

/** A data path as stored: relative to the repository root, normalised, and never inside `.git`. */
export function checkDataPath(path: string): string {
  let normal: string;
  try {
    normal = normaliseFilePath(path);
  } catch (error) {
    throw invalid(
      `invalid data path ${JSON.stringify(path)}: give a folder relative to the repository root`,
      {
        cause: error,
      },
    );
  }
  if (normal.split("/")[0] === ".git") throw invalid(`a data path cannot be inside .git: ${path}`);
  return normal;
}

/**
 * Each exact ref's path (the given one, else the default), refusing two data versions in one folder or one
 * inside another: reproduced, one would overwrite the other's files.
 */
export function placeData(
  inputs: ReadonlyArray<{ ref: string; path?: string | undefined }>,
): Record<string, string> {
  const paths: Record<string, string> = {};
  for (const input of inputs) {
    const path = input.path === undefined ? defaultDataPath(input.ref) : checkDataPath(input.path);
    const earlier = paths[input.ref];
    if (earlier !== undefined && earlier !== path) {
      throw invalid(`${input.ref} is given two paths: ${earlier} and ${path}`);
    }
    paths[input.ref] = path;
  }
  const entries = Object.entries(paths);
  for (const [i, [ref, path]] of entries.entries()) {
    for (const [other, otherPath] of entries.slice(i + 1)) {
      if (path === otherPath || path.startsWith(`${otherPath}/`) || otherPath.startsWith(`${path}/`)) {
        throw invalid(`${ref} and ${other} would share the folder ${path}`, {
          hint: "give each its own path: --data REF=PATH",
        });
      }
    }
  }
  return paths;
}

/** What `cairn reproduce` rebuilds, from a model version (with the run that made it, if any) or a run. */
export interface ReproducePlan {
  /** What is reproduced: `name@version`, or `run:<id>`. */
  source: string;
  code: CodeInfo;
  /** Exact data refs and where each goes, relative to the checkout's root. */
  data: Array<{ ref: string; path: string }>;
  params: JsonObject;
  /** The recorded command that ran the training, if any. */
  command: string | null;
  run: string | null;
}

type RunRecord = Pick<Run, "id" | "code" | "data" | "dataPaths" | "params" | "command">;
type VersionRecord = Pick<VersionView, "name" | "version" | "code" | "data" | "params" | "run">;

/**
 * The plan for a version (its own code, data and params; the paths and command of its run, when it has one)
 * or for a run. NOT_FOUND when no code was recorded: there is nothing to check out.
 */
export function planReproduction(
  from: { version: VersionRecord; run: RunRecord | null } | { version?: undefined; run: RunRecord },
): ReproducePlan {
  const { version, run } = from;
  const source = version ? `${version.name}@${version.version}` : `run:${run?.id}`;
  const code = version ? version.code : (run?.code ?? null);
  if (code === null) {
    throw notFound(`${source} records no code: it was not made inside a git repository`, {
      hint: "only versions and runs recorded from a git work tree can be reproduced",
    });
  }
  const refs = version ? version.data : (run?.data ?? []);
  const recorded = run?.dataPaths ?? {};
  const paths = placeData(refs.map((ref) => ({ ref, path: recorded[ref] })));
  return {
    source,
    code,
    data: Object.entries(paths).map(([ref, path]) => ({ ref, path })),
    params: version ? version.params : (run?.params ?? {}),
    command: run?.command ?? null,
    run: version ? version.run : (run?.id ?? null),
  };
}

/** Who builds a partial folder: the machine and the process, so a later run can tell a killed one's leftovers. */
export interface PartialOwner {
  host: string;
  pid: number;
}

// A host name as it can sit in a folder name.
const folderSafe = (host: string): string => host.replace(/[^A-Za-z0-9.-]/g, "_");

const PARTIAL_FOLDER = /^\..+\.cairn-partial-(.+)-(\d+)-[0-9a-f]+$/;

/**
 * The hidden folder next to DIR that `cairn reproduce` builds it in: `.NAME.cairn-partial-HOST-PID-NONCE`. The
 * owner is in the name, not in a file inside: the folder is the checkout, and every file in it is the user's.
 */
export function partialFolderName(name: string, owner: PartialOwner, nonce: string): string {
  return `.${name}.cairn-partial-${folderSafe(owner.host)}-${owner.pid}-${nonce}`;
}

/**
 * The partial folders among a folder's entries that a killed `cairn reproduce` left: made on this host by a
 * process that no longer runs. Never one of a live process (a reproduce running now, or a reused pid: kept
 * until that process ends), of another host sharing the folder (its pids mean nothing here), or any other name.
 */
export function stalePartialFolders(names: readonly string[], here: Machine): string[] {
  const host = folderSafe(here.host);
  return names.filter((name) => {
    const owner = PARTIAL_FOLDER.exec(name);
    return owner !== null && owner[1] === host && !here.isProcessAlive(Number(owner[2]));
  });
}
