import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { captureGit } from "../dist/git.js";

let base: string;

beforeAll(async () => {
  base = realpathSync(await mkdtemp(path.join(tmpdir(), "cairn-git-")));
  const emptyConfig = path.join(base, "gitconfig");
  writeFileSync(emptyConfig, "");
  // The machine's own git config (signing, default branch, hooks) must not change what the tests see, and
  // no repository above the temp folder may be found by the "not a repo" case.
  vi.stubEnv("GIT_CONFIG_GLOBAL", emptyConfig);
  vi.stubEnv("GIT_CONFIG_NOSYSTEM", "1");
  vi.stubEnv("GIT_CEILING_DIRECTORIES", base);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await rm(base, { recursive: true, force: true });
});

let count = 0;
function folder(name: string): string {
  const dir = path.join(base, `${++count}-${name}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", env: process.env }).trimEnd();
}

function write(dir: string, file: string, content: string | Uint8Array): void {
  mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  writeFileSync(path.join(dir, file), content);
}

/** A repository on branch `main` with one commit holding `files`. */
function repo(name: string, files: Record<string, string | Uint8Array> = { "train.py": "print('hi')\n" }) {
  const dir = folder(name);
  git(dir, "init", "--quiet", "--initial-branch=main");
  git(dir, "config", "user.name", "Test");
  git(dir, "config", "user.email", "test@example.com");
  for (const [file, content] of Object.entries(files)) write(dir, file, content);
  git(dir, "add", "--all");
  git(dir, "commit", "--quiet", "-m", "first");
  return dir;
}

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7) % 256;
  return out;
}

/** Tracked paths, read from the index (so staged new files and unstaged deletions are both listed). */
function tracked(dir: string): string[] {
  return git(dir, "-c", "core.quotepath=off", "ls-files", "-z").split("\0").filter(Boolean);
}

describe("captureGit", () => {
  it("records the commit and branch of a clean repository, with no patch", async () => {
    const dir = repo("clean");
    // A large untracked model file is what a push usually sends: it is neither a change nor part of a patch.
    write(dir, "model.bin", bytes(1024 * 1024, 1));

    const capture = await captureGit(["model.bin"], dir);

    expect(capture).toEqual({
      remote: null,
      branch: "main",
      commit: git(dir, "rev-parse", "HEAD"),
      dirty: false,
      patch: null,
      path: "model.bin",
      root: dir,
    });
    expect(capture?.commit).toMatch(/^[0-9a-f]{40}$/);
  });

  it("keeps uncommitted changes as a patch that rebuilds the tracked files on a checkout of the commit", async () => {
    const dir = repo("dirty", {
      "train.py": "lr = 0.1\nepochs = 3\n",
      "config.yaml": "batch: 32\n",
      "weights/init.bin": bytes(4096, 2),
      "docs/ünï côde.md": "# notes\n",
      "old.txt": "going away\n",
      "run.sh": "#!/bin/sh\necho run\n",
    });
    // A user's config that would make a naive `git diff` unappliable.
    for (const [key, value] of [
      ["diff.noprefix", "true"],
      ["diff.mnemonicPrefix", "true"],
      ["color.ui", "always"],
      ["color.diff", "always"],
      ["diff.external", "/nonexistent/difftool"],
      ["diff.submodule", "log"],
    ] as const) {
      git(dir, "config", key, value);
    }

    write(dir, "train.py", "lr = 0.05\nepochs = 3\n"); // changed, not staged
    write(dir, "config.yaml", "batch: 64\n"); // changed and staged
    git(dir, "add", "config.yaml");
    write(dir, "weights/init.bin", bytes(4096, 3)); // binary change
    write(dir, "docs/ünï côde.md", "# notes\nnon-ASCII path\n");
    write(dir, "data/new.bin", bytes(300, 4)); // new file, staged
    git(dir, "add", "data/new.bin");
    git(dir, "rm", "--quiet", "old.txt");
    if (process.platform !== "win32") chmodSync(path.join(dir, "run.sh"), 0o755);
    write(dir, "scratch.log", "untracked\n");

    const capture = await captureGit([], dir);
    expect(capture?.dirty).toBe(true);
    expect(capture?.patch).toBeInstanceOf(Uint8Array);
    const patch = Buffer.from(capture?.patch ?? []);
    expect(patch.includes("scratch.log")).toBe(false);
    expect(patch.includes("\x1b[")).toBe(false);

    const checkout = path.join(folder("checkout"), "tree");
    git(dir, "worktree", "add", "--quiet", "--detach", checkout, capture?.commit ?? "HEAD");
    const patchFile = path.join(base, `${count}.patch`);
    writeFileSync(patchFile, patch);
    git(checkout, "apply", patchFile);

    const paths = new Set([...tracked(dir), ...tracked(checkout)]);
    expect(paths).toContain("data/new.bin");
    expect(paths).toContain("old.txt");
    for (const file of paths) {
      const original = path.join(dir, file);
      const rebuilt = path.join(checkout, file);
      expect(existsSync(rebuilt), file).toBe(existsSync(original));
      if (!existsSync(original)) continue;
      expect(readFileSync(rebuilt), file).toEqual(readFileSync(original));
      expect(statSync(rebuilt).mode, file).toBe(statSync(original).mode);
    }
    expect(existsSync(path.join(checkout, "scratch.log"))).toBe(false);
  });

  it("records no branch on a detached HEAD", async () => {
    const dir = repo("detached");
    git(dir, "checkout", "--quiet", "--detach");

    const capture = await captureGit([], dir);

    expect(capture?.branch).toBeNull();
    expect(capture?.commit).toBe(git(dir, "rev-parse", "HEAD"));
  });

  it("stores the remote URL without credentials", async () => {
    const dir = repo("remote");
    const remoteOf = async () => (await captureGit([], dir))?.remote;

    git(dir, "remote", "add", "origin", "https://user:secret@example.com/x.git");
    expect(await remoteOf()).toBe("https://example.com/x.git");

    // A token alone in the user name is just as secret.
    git(dir, "remote", "set-url", "origin", "https://ghp_token123@github.com/team/x.git");
    expect(await remoteOf()).toBe("https://github.com/team/x.git");

    // An ssh login name is not a secret; a password would be.
    git(dir, "remote", "set-url", "origin", "ssh://git:hunter2@example.com:2222/x.git");
    expect(await remoteOf()).toBe("ssh://git@example.com:2222/x.git");

    git(dir, "remote", "set-url", "origin", "git@github.com:team/x.git");
    expect(await remoteOf()).toBe("git@github.com:team/x.git");
  });

  it("prefers origin, else takes the first remote", async () => {
    const dir = repo("remotes");
    git(dir, "remote", "add", "upstream", "https://example.com/upstream.git");
    expect((await captureGit([], dir))?.remote).toBe("https://example.com/upstream.git");

    git(dir, "remote", "add", "origin", "https://example.com/origin.git");
    expect((await captureGit([], dir))?.remote).toBe("https://example.com/origin.git");
  });

  it("returns null outside a git repository", async () => {
    const dir = folder("plain");
    write(dir, "model.bin", bytes(100, 5));

    expect(await captureGit(["model.bin"], dir)).toBeNull();
  });

  it("does not start git where no repository can be found, unless GIT_DIR or GIT_WORK_TREE names one", async () => {
    const dir = folder("plain-no-spawn");
    // A git that only notes it was started, first on PATH.
    const bin = folder("noting-git");
    const notes = path.join(bin, "started");
    write(bin, "git", `#!/bin/sh\necho "$@" >> "${notes}"\nexit 1\n`);
    chmodSync(path.join(bin, "git"), 0o755);
    const original = process.env["PATH"];
    vi.stubEnv("PATH", `${bin}${path.delimiter}${original}`);
    try {
      expect(await captureGit([], dir)).toBeNull();
      expect(existsSync(notes)).toBe(false);
      vi.stubEnv("GIT_DIR", path.join(dir, "elsewhere.git"));
      expect(await captureGit([], dir)).toBeNull();
      expect(readFileSync(notes, "utf8")).toContain("rev-parse");
    } finally {
      vi.stubEnv("PATH", original);
      vi.stubEnv("GIT_DIR", undefined);
    }
  });

  it("finds a linked work tree, whose .git is a file", async () => {
    const dir = repo("linked-main");
    const linked = path.join(folder("linked"), "tree");
    git(dir, "worktree", "add", "--quiet", "--detach", linked, "HEAD");
    expect(statSync(path.join(linked, ".git")).isFile()).toBe(true);
    const capture = await captureGit([], linked);
    expect(capture).toMatchObject({ commit: git(dir, "rev-parse", "HEAD").trim(), root: linked });
  });

  it("returns null when git is not installed", async () => {
    const dir = repo("no-git");
    const original = process.env["PATH"];
    vi.stubEnv("PATH", folder("empty-path"));
    try {
      expect(await captureGit([], dir)).toBeNull();
    } finally {
      vi.stubEnv("PATH", original);
    }
  });

  it("returns null for a repository with no commit yet", async () => {
    const dir = folder("unborn");
    git(dir, "init", "--quiet", "--initial-branch=main");
    write(dir, "train.py", "print('hi')\n");
    git(dir, "add", "train.py");

    expect(await captureGit(["train.py"], dir)).toBeNull();
  });

  it("records the pushed path relative to the repository root", async () => {
    const dir = repo("subfolder");
    write(dir, "models/resnet/model.bin", bytes(100, 6));
    const sub = path.join(dir, "models");

    const file = await captureGit(["resnet/model.bin", "other.bin"], sub);
    expect(file?.path).toBe("models/resnet/model.bin");
    expect(file?.root).toBe(dir);

    expect((await captureGit([path.join(sub, "resnet")], "/"))?.path).toBe("models/resnet");
    expect((await captureGit(["."], dir))?.path).toBe(".");
    // With no path pushed, the working folder finds the repository and there is no path to record.
    expect(await captureGit([], sub)).toMatchObject({ path: null, root: dir });
  });

  it("leaves changes inside a .cairn store out of the dirty flag and the patch", async () => {
    const dir = repo("store", { "train.py": "x = 1\n", ".cairn/cairn.yaml": "a: 1\n" });
    write(dir, ".cairn/cairn.yaml", "a: 2\n");

    expect(await captureGit([".cairn/cairn.yaml"], dir)).toMatchObject({ dirty: false, patch: null });

    write(dir, "train.py", "x = 2\n");
    const capture = await captureGit([], dir);
    expect(capture?.dirty).toBe(true);
    expect(Buffer.from(capture?.patch ?? []).includes(".cairn")).toBe(false);
  });
});
