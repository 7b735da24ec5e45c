/**
 * @module The code half of `cairn reproduce`: the recorded commit checked out into a folder — a detached git
 * worktree of the repository around the working folder when it has the commit, else a clone of the recorded
 * remote — with the recorded uncommitted patch applied, so the files are byte-identical to what was trained.
 * The checkout is made under a temporary name and moved to its place only when everything else is done.
 */
import { lstat, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { CairnError, type CodeInfo, integrity, notFound } from "@cairn/core";
import { GitCommandError, runGit, tryGit } from "./git.js";

export interface Checkout {
  how: "worktree" | "clone";
  /** The repository's root (worktree) or the remote cloned. */
  from: string;
  /** Where the files are now. */
  dir: string;
}

const gitMessage = (error: unknown): string =>
  error instanceof GitCommandError ? error.stderr.trim().split("\n").pop() || error.message : String(error);

/** A git step that should not fail once the commit is known to be there: INTERNAL with git's message. */
const failed =
  (what: string) =>
  (error: unknown): never => {
    throw new CairnError("INTERNAL", `git could not ${what}: ${gitMessage(error)}`, { cause: error });
  };

/** The root of the work tree around `cwd`, if it is one and its repository has `commit`. */
async function repositoryWith(cwd: string, commit: string): Promise<string | null> {
  const top = await tryGit(cwd, ["rev-parse", "--show-toplevel"]);
  if (top === null) return null;
  const root = top.toString("utf8").split("\n")[0] ?? "";
  const has = await tryGit(root, ["cat-file", "-e", `${commit}^{commit}`]);
  return has === null ? null : root;
}

/**
 * Checks out `code.commit` into `dir`, which must not exist: a worktree of the repository around `cwd` if it
 * has the commit, else a clone of `code.remote`. NOT_FOUND, with what was tried, when neither reaches it; a
 * half-made clone is left for the caller's `abandonCheckout`.
 */
export async function checkOutCommit(code: CodeInfo, cwd: string, dir: string): Promise<Checkout> {
  const { commit } = code;
  const root = await repositoryWith(cwd, commit);
  if (root !== null) {
    await runGit(root, ["worktree", "add", "--quiet", "--detach", dir, commit]).catch(
      failed("add a worktree"),
    );
    return { how: "worktree", from: root, dir };
  }
  const here = `${cwd} is not in a git repository that has it`;
  if (code.remote === null) {
    throw notFound(`commit ${commit} cannot be reached: ${here}, and no remote was recorded`, {
      hint: "run `cairn reproduce` inside a clone of the repository that has this commit",
    });
  }
  try {
    await runGit(cwd, ["clone", "--quiet", "--no-checkout", code.remote, dir]);
  } catch (error) {
    throw notFound(
      `commit ${commit} cannot be reached: ${here}, and cloning ${code.remote} failed: ${gitMessage(error)}`,
      { hint: "run `cairn reproduce` inside a clone that has this commit, or check access to the remote" },
    );
  }
  // A commit no branch points at any more is not cloned; most servers still hand it out by name.
  if ((await tryGit(dir, ["cat-file", "-e", `${commit}^{commit}`])) === null)
    await tryGit(dir, ["fetch", "--quiet", "origin", commit]);
  try {
    await runGit(dir, ["checkout", "--quiet", "--detach", commit]);
  } catch (error) {
    throw notFound(
      `commit ${commit} cannot be reached: ${here}, and ${code.remote} does not have it: ${gitMessage(error)}`,
    );
  }
  return { how: "clone", from: code.remote, dir };
}

/** Applies a `git diff HEAD --binary` patch to the checkout, so its tracked files are as they were recorded. */
export async function applyPatch(checkout: Checkout, patch: Uint8Array): Promise<void> {
  // Outside the checkout, so the patch file never becomes one of its files.
  const scratch = await mkdtemp(path.join(tmpdir(), "cairn-patch-"));
  try {
    const file = path.join(scratch, "code.patch");
    await writeFile(file, patch);
    // --index: files the patch adds are tracked in the checkout as they were in the recorded tree.
    await runGit(checkout.dir, ["apply", "--index", "--whitespace=nowarn", file]);
  } catch (error) {
    throw integrity(
      `the recorded uncommitted patch does not apply to ${checkout.dir}: ${gitMessage(error)}`,
      {
        cause: error,
      },
    );
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Moves a finished checkout to its final place (git is told where a worktree went). */
export async function moveCheckout(checkout: Checkout, to: string): Promise<void> {
  if (checkout.how === "worktree")
    await runGit(checkout.from, ["worktree", "move", checkout.dir, to]).catch(failed("move the worktree"));
  else await rename(checkout.dir, to);
}

/**
 * The repository root a folder is a worktree of (its `.git` is a file pointing there), for a checkout another
 * process made; null for a clone, or a folder git had not yet made a worktree.
 */
export async function worktreeOwner(dir: string): Promise<string | null> {
  const dotGit = await lstat(path.join(dir, ".git")).catch(() => null);
  if (dotGit?.isFile() !== true) return null;
  // The main work tree comes first; the first line only, untrimmed: a folder name may end in a space.
  const list = await tryGit(dir, ["worktree", "list", "--porcelain"]);
  const first = list?.toString("utf8").split("\n")[0] ?? "";
  return first.startsWith("worktree ") ? first.slice("worktree ".length) : null;
}

/** Removes a checkout that will not be finished, with git's record of a worktree. Never throws. */
export async function abandonCheckout(dir: string, worktreeOf: string | null): Promise<void> {
  // Twice: a worktree whose `git worktree add` was killed is still locked ("initializing").
  if (worktreeOf !== null) await tryGit(worktreeOf, ["worktree", "remove", "--force", "--force", dir]);
  await rm(dir, { recursive: true, force: true }).catch(() => {});
  if (worktreeOf !== null) await tryGit(worktreeOf, ["worktree", "prune"]);
}
