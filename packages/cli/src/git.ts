/**
 * @module Git capture on push: which code made a version. Records the repository's remote, branch, HEAD
 * commit and the uncommitted diff of tracked files, so a model can be traced back to, and rebuilt from, the
 * exact source tree that produced it.
 */

import { execFile } from "node:child_process";
import { realpath, stat } from "node:fs/promises";
import path from "node:path";
import { CairnError } from "@cairn/core";

/** What `push` records about the code; `patch` holds the bytes that core's `CodeInfo.patch` names by sha256. */
export interface GitCapture {
  /** URL of `origin`, else of the first remote, without credentials; null when the repository has none. */
  remote: string | null;
  /** Null on a detached HEAD. */
  branch: string | null;
  /** Full sha of HEAD. */
  commit: string;
  /** Whether any tracked file differs from HEAD, staged or not. Untracked files do not count. */
  dirty: boolean;
  /** `git diff HEAD --binary` of tracked files: `git apply` on a checkout of `commit` reproduces them. */
  patch: Uint8Array | null;
  /** The first pushed path relative to `root`, POSIX separators, `.` for the root itself. */
  path: string | null;
  /** Absolute path of the work tree's top folder. */
  root: string;
}

// Small outputs (sha, branch, remote URL) stay far below this; only the patch needs the large limit.
const SMALL_OUTPUT = 16 * 1024 * 1024;
const MAX_PATCH_BYTES = 1024 * 1024 * 1024;

// The store itself never belongs in the patch, even if someone tracks it: it changes on every push, so it
// would make every version dirty and copy store files into every patch.
const PATHSPEC = ["--", ".", ":(exclude,glob)**/.cairn/**"];

/**
 * Describes the git work tree that holds the first pushed path (else `cwd`). Returns null, without failing,
 * when there is nothing to record: not inside a work tree, git not installed, or no commit yet (unborn HEAD).
 * Throws when git fails once the repository is found, so a version is never stored with half its code info.
 */
export async function captureGit(paths: string[], cwd: string): Promise<GitCapture | null> {
  const first = paths[0];
  const pushed = first === undefined ? null : await locate(path.resolve(cwd, first));
  const start = pushed?.dir ?? path.resolve(cwd);

  if (!(await mayBeInRepository(start))) return null;
  const topLevel = await tryGit(start, ["rev-parse", "--show-toplevel"]);
  if (topLevel === null) return null;
  const root = await realpathOr(path.resolve(firstLine(topLevel)));

  // Fails (exit 1) on an unborn HEAD: there is no commit a patch could apply to.
  const head = await tryGit(root, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]);
  if (head === null) return null;
  const commit = firstLine(head);

  const [remote, branch, changes] = await Promise.all([
    readRemote(root),
    readBranch(root),
    // Tracked files only: an untracked model file or scratch output must neither mark the code dirty nor
    // end up in the patch (a git diff cannot carry untracked files anyway).
    git(root, ["status", "--porcelain=v1", "-z", "--untracked-files=no", ...PATHSPEC]),
  ]);
  const dirty = changes.length > 0;
  const patch = dirty ? await readPatch(root) : null;

  return {
    remote,
    branch,
    commit,
    dirty,
    patch,
    path: pushed === null ? null : relativeTo(root, pushed.full),
    root,
  };
}

async function readPatch(root: string): Promise<Uint8Array | null> {
  const args = [
    "diff",
    // Binary changes as applicable deltas (implies --full-index), not "Binary files differ".
    "--binary",
    // A user's config must not change the patch format: colour codes, external diff tools, textconv
    // filters, `diff.noprefix`/`mnemonicPrefix` and `diff.submodule=log` would all make it unappliable.
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "--submodule=short",
    // Uncommitted edits inside a submodule cannot be applied from here; they still count as dirty.
    "--ignore-submodules=dirty",
    "HEAD",
    ...PATHSPEC,
  ];
  try {
    const bytes = await run(root, args, MAX_PATCH_BYTES);
    return bytes.length > 0 ? bytes : null;
  } catch (error) {
    if (error instanceof GitCommandError && error.tooLarge) {
      throw new CairnError("INVALID", `the uncommitted changes in ${root} are larger than 1 GiB`, {
        hint: "commit or stash them, then push again",
        cause: error,
      });
    }
    throw unreadable(root, error);
  }
}

async function readRemote(root: string): Promise<string | null> {
  const names = await tryGit(root, ["remote"]);
  if (names === null) return null;
  const list = names.toString("utf8").split("\n").filter(Boolean);
  const name = list.includes("origin") ? "origin" : list[0];
  if (name === undefined) return null;
  const url = await tryGit(root, ["remote", "get-url", name]);
  return url === null ? null : withoutCredentials(firstLine(url));
}

async function readBranch(root: string): Promise<string | null> {
  // Exit 1 on a detached HEAD. The full ref, not `--short`, which can turn `main` into `heads/main`
  // when a tag of the same name exists.
  const ref = await tryGit(root, ["symbolic-ref", "--quiet", "HEAD"]);
  if (ref === null) return null;
  const name = firstLine(ref);
  return name.startsWith("refs/heads/") ? name.slice("refs/heads/".length) : name;
}

/**
 * Removes secrets from a remote URL before it is stored. On http(s) the whole user part goes, because a
 * token alone often sits in the user name (`https://ghp_…@github.com/…`); on other schemes the user name is
 * a login (`ssh://git@host/…`) and only a password goes. scp-like `git@host:path` and local paths carry none.
 */
function withoutCredentials(url: string): string {
  // Greedy up to the last `@` before the path, as git itself reads it.
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i.exec(url);
  const scheme = match?.[1];
  const userInfo = match?.[2];
  if (match === null || scheme === undefined || userInfo === undefined) return url;
  const rest = url.slice(match[0].length);
  if (/^https?:\/\/$/i.test(scheme)) return scheme + rest;
  const user = userInfo.split(":")[0] ?? "";
  return scheme + (user === "" ? "" : `${user}@`) + rest;
}

/**
 * False when git could not find a repository from `dir`: no `.git` (folder, or file in a linked work tree) in
 * it or any folder above, and no GIT_DIR or GIT_WORK_TREE naming one. Saves starting git (~13 ms of a push
 * outside any repository); anything else is left to git to decide.
 */
async function mayBeInRepository(dir: string): Promise<boolean> {
  if (process.env["GIT_DIR"] !== undefined || process.env["GIT_WORK_TREE"] !== undefined) return true;
  for (let at = dir; ; at = path.dirname(at)) {
    if (
      await stat(path.join(at, ".git")).then(
        () => true,
        () => false,
      )
    )
      return true;
    if (path.dirname(at) === at) return false;
  }
}

/** The folder to start git in, and the pushed path with symlinked parents resolved as git resolves them. */
async function locate(pushed: string): Promise<{ dir: string; full: string }> {
  const isDirectory = await stat(pushed).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (isDirectory) {
    const real = await realpathOr(pushed);
    return { dir: real, full: real };
  }
  // The file itself is not resolved: a symlinked model file inside the repo still reports its own path.
  const dir = await realpathOr(path.dirname(pushed));
  return { dir, full: path.join(dir, path.basename(pushed)) };
}

function relativeTo(root: string, full: string): string | null {
  const relative = path.relative(root, full);
  if (relative === "") return ".";
  if (relative === ".." || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) return null;
  return relative.split(path.sep).join("/");
}

async function realpathOr(p: string): Promise<string> {
  return realpath(p).catch(() => p);
}

/** The first line of git's output, without trimming: a folder name may end in a space. */
function firstLine(bytes: Buffer): string {
  return bytes.toString("utf8").split("\n")[0] ?? "";
}

/** A git command that did not succeed; `exitCode` is null when git could not be started or was killed. */
export class GitCommandError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly tooLarge: boolean,
  ) {
    super(`git ${args.join(" ")} failed${stderr ? `: ${stderr.trim()}` : ""}`);
    this.name = "GitCommandError";
  }
}

/** Runs git where failure is an answer (not a repo, detached HEAD, no remote): null instead of throwing. */
export async function tryGit(cwd: string, args: string[]): Promise<Buffer | null> {
  try {
    return await run(cwd, args, SMALL_OUTPUT);
  } catch (error) {
    if (error instanceof GitCommandError) return null;
    throw error;
  }
}

/** Runs git where failure means something is wrong with the repository: a CairnError naming the command. */
async function git(cwd: string, args: string[]): Promise<Buffer> {
  try {
    return await run(cwd, args, SMALL_OUTPUT);
  } catch (error) {
    throw unreadable(cwd, error);
  }
}

/** Runs git where the caller explains a failure: a GitCommandError carrying git's own message. */
export function runGit(cwd: string, args: string[]): Promise<Buffer> {
  return run(cwd, args, SMALL_OUTPUT);
}

function unreadable(cwd: string, error: unknown): unknown {
  if (!(error instanceof GitCommandError)) return error;
  return new CairnError("INTERNAL", `could not read the git state of ${cwd}: ${error.message}`, {
    cause: error,
  });
}

function run(cwd: string, args: string[], maxBuffer: number): Promise<Buffer> {
  // No shell: paths and names reach git as they are. quotepath=off keeps non-ASCII paths readable.
  const argv = ["-C", cwd, "-c", "core.quotepath=off", ...args];
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      argv,
      { env: gitEnv(), encoding: "buffer", maxBuffer, windowsHide: true },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve(stdout);
          return;
        }
        const code = (error as NodeJS.ErrnoException).code;
        reject(
          new GitCommandError(
            args,
            typeof code === "number" ? code : null,
            Buffer.from(stderr).toString("utf8"),
            code === "ERR_CHILD_PROCESS_STDIO_MAXBUFFER",
          ),
        );
      },
    );
  });
}

// Set by git hooks and wrappers; left in place they would point every command at some other repository
// than the one holding the pushed files.
const REPOSITORY_VARIABLES = [
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_INDEX_FILE",
  "GIT_COMMON_DIR",
  "GIT_OBJECT_DIRECTORY",
  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
  "GIT_NAMESPACE",
  "GIT_PREFIX",
];

function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // Stable, English output and messages.
    LC_ALL: "C",
    // `status` refreshes the index; without this it takes index.lock and can break a concurrent git command.
    GIT_OPTIONAL_LOCKS: "0",
    // A clone for `cairn reproduce` must fail, not wait for a password nobody will type.
    GIT_TERMINAL_PROMPT: "0",
  };
  for (const name of REPOSITORY_VARIABLES) delete env[name];
  return env;
}
