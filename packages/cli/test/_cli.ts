/**
 * @module Runs the real `cairn` binary as a child process against a throwaway store, for the CLI's tests: each
 * sandbox is a temp folder holding a working folder with its own `.cairn/` (made by `cairn init`).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  createReadStream,
  type Dirent,
  existsSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../bin/cairn.js", import.meta.url));

export interface RunResult {
  /** Exit code; null when the process was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  /** Added to (or, with undefined, removed from) the sandbox's environment. */
  env?: Record<string, string | undefined>;
}

export interface RunningCli {
  child: ChildProcess;
  pid: number;
  /** Settles when the process has exited and its output is complete. */
  done: Promise<RunResult>;
}

// Nothing of the machine running the tests may leak in: no store or server from the caller's environment,
// no colour codes, and a git that reads no user or system config and finds no repository above the sandbox.
const STRIPPED = [
  "CAIRN_HOME",
  "CAIRN_URL",
  "CAIRN_TOKEN",
  "CAIRN_DATABASE_URL",
  "CAIRN_BLOB_URL",
  "CAIRN_DEBUG",
];

function childEnv(root: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of STRIPPED) delete env[name];
  for (const name of Object.keys(env)) if (name.startsWith("GIT_")) delete env[name];
  Object.assign(env, {
    NO_COLOR: "1",
    CAIRN_ACTOR: "tester",
    GIT_CONFIG_GLOBAL: join(root, "gitconfig"),
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CEILING_DIRECTORIES: root,
    GIT_AUTHOR_NAME: "Tester",
    GIT_AUTHOR_EMAIL: "tester@example.com",
    GIT_COMMITTER_NAME: "Tester",
    GIT_COMMITTER_EMAIL: "tester@example.com",
  });
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** Starts `cairn ARGS…` without waiting for it (for concurrency, kill and memory tests). */
export function startCli(args: string[], options: RunOptions & { root: string }): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: childEnv(options.root, options.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (text: string) => {
    stdout += text;
  });
  child.stderr!.setEncoding("utf8").on("data", (text: string) => {
    stderr += text;
  });
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on("error", reject);
    // 'close', not 'exit': only then have both pipes delivered everything.
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  if (child.pid === undefined) throw new Error(`could not start ${CLI}`);
  return { child, pid: child.pid, done };
}

/** Parses a command's JSON output, failing with everything it printed when it is not JSON. */
export function parseJson<T = unknown>(result: RunResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(
      `expected JSON on stdout (exit ${result.code}):\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
    );
  }
}

/** The error a failing command printed with --json: `{"error":{"code","message"}}`. */
export interface JsonError {
  error: { code: string; message: string };
}

function explain(args: string[], result: RunResult): string {
  return `cairn ${args.join(" ")} exited with ${result.code ?? result.signal}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

export interface Sandbox {
  /** The temp folder holding everything below; removed by `cleanup`. */
  root: string;
  /** The working folder commands run in; its `.cairn/` is the store. */
  cwd: string;
  /** The store folder (`cwd/.cairn`). */
  home: string;
  /** A path under the working folder. */
  path(...parts: string[]): string;
  /** Writes a file under the working folder (creating folders), returning its absolute path. */
  write(relative: string, content: string | Uint8Array): string;
  /** Runs `cairn ARGS…` in the working folder. */
  run(args: string[], env?: Record<string, string | undefined>): Promise<RunResult>;
  /** Runs `cairn ARGS… --json`, expects exit 0, returns the parsed output. */
  json<T = unknown>(args: string[], env?: Record<string, string | undefined>): Promise<T>;
  /** Runs `cairn ARGS… --json`, expects exit 1 and returns the printed error. */
  jsonError(args: string[]): Promise<JsonError["error"]>;
  /** Runs `cairn ARGS…`, expects exit 0, returns stdout. */
  ok(args: string[], env?: Record<string, string | undefined>): Promise<string>;
  start(args: string[], env?: Record<string, string | undefined>): RunningCli;
  cleanup(): Promise<void>;
}

const open: Sandbox[] = [];

/** A fresh temp folder with a working folder; with `init` (default) a store made by `cairn init` in it. */
export async function sandbox(options: { init?: boolean } = {}): Promise<Sandbox> {
  const root = realpathSync(await mkdtemp(join(tmpdir(), "cairn-cli-")));
  writeFileSync(join(root, "gitconfig"), "");
  const cwd = join(root, "work");
  mkdirSync(cwd);
  const box: Sandbox = {
    root,
    cwd,
    home: join(cwd, ".cairn"),
    path: (...parts) => join(cwd, ...parts),
    write(relative, content) {
      const file = join(cwd, relative);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
      return file;
    },
    run: (args, env) => startCli(args, { cwd, root, ...(env ? { env } : {}) }).done,
    async json<T>(args: string[], env?: Record<string, string | undefined>) {
      const all = [...args, "--json"];
      const result = await box.run(all, env);
      if (result.code !== 0) throw new Error(explain(all, result));
      return parseJson<T>(result);
    },
    async jsonError(args) {
      const all = [...args, "--json"];
      const result = await box.run(all);
      if (result.code !== 1) throw new Error(`expected exit 1: ${explain(all, result)}`);
      return parseJson<JsonError>(result).error;
    },
    async ok(args, env) {
      const result = await box.run(args, env);
      if (result.code !== 0) throw new Error(explain(args, result));
      return result.stdout;
    },
    start: (args, env) => startCli(args, { cwd, root, ...(env ? { env } : {}) }),
    async cleanup() {
      open.splice(open.indexOf(box) >>> 0, 1);
      await rm(root, { recursive: true, force: true });
    },
  };
  open.push(box);
  if (options.init !== false) await box.ok(["init"]);
  return box;
}

/** Removes every sandbox not yet cleaned up; each test file runs it in afterAll. */
export async function removeSandboxes(): Promise<void> {
  await Promise.all([...open].map((box) => box.cleanup()));
}

// ── what tests read back ──────────────────────────────────────────────────────────────────────────────────

export interface VersionJson {
  name: string;
  version: string;
  seq: number;
  type: string;
  createdAt: string;
  createdBy: string;
  size: number;
  files: Array<{ path: string; size: number; sha256: string; mode: string }>;
  params: Record<string, unknown>;
  metrics: Record<string, number>;
  tags: Record<string, string>;
  aliases: string[];
  notes: string;
  data: string[];
  code: {
    commit: string;
    branch: string | null;
    remote: string | null;
    dirty: boolean;
    patch: string | null;
    path: string | null;
  } | null;
}

export interface VersionRow {
  artifact: string;
  version: string;
  seq: number;
  aliases: string[];
  size: number;
}

export interface AliasEventJson {
  id: number;
  alias: string;
  action: "set" | "remove" | "rollback";
  from: string | null;
  to: string | null;
  actor: string;
  reason: string | null;
}

export const sha256 = (bytes: string | Uint8Array): string =>
  createHash("sha256").update(bytes).digest("hex");

/** sha256 of a file, streamed (files in these tests reach several GB). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const piece of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) {
    hash.update(piece as Buffer);
  }
  return hash.digest("hex");
}

/** Relative paths of every file under `dir` (POSIX separators, sorted); none when `dir` does not exist. */
export function listTree(dir: string, prefix = ""): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listTree(join(dir, entry.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

/** Total bytes of the regular files under `dir` (missing folders count as 0). */
export function folderBytes(dir: string): number {
  let total = 0;
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = join(dir, entry.name);
    try {
      if (entry.isDirectory()) total += folderBytes(full);
      else if (entry.isFile()) total += statSync(full).size;
    } catch {
      // A temp file renamed or removed between listing and stat: counted on the next look.
    }
  }
  return total;
}

/** Starts `cairn serve --port 0` on the sandbox's store and returns it with the URL it listens on. */
export async function serve(box: Sandbox): Promise<{ url: string; server: RunningCli }> {
  const server = box.start(["serve", "--port", "0", "--json"]);
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    server.child.stdout?.on("data", (text: Buffer | string) => {
      out += String(text);
      const match = /"url":\s*"([^"]+)"/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    server.done.then((r) => reject(new Error(`cairn serve ended: ${r.stderr}`)));
  });
  return { url, server };
}

/**
 * Makes the sandbox's working folder a git repository (branch main) whose one commit holds `files` (paths and
 * contents); returns that commit.
 */
export function commitFiles(s: Sandbox, files: Record<string, string>, message: string): string {
  git(s, s.cwd, "init", "--quiet", "--initial-branch=main");
  for (const [path, content] of Object.entries(files)) s.write(path, content);
  git(s, s.cwd, "add", ...Object.keys(files));
  git(s, s.cwd, "commit", "--quiet", "-m", message);
  return git(s, s.cwd, "rev-parse", "HEAD");
}

/** Runs git in `cwd` as the CLI's children see it: the sandbox's empty config, a fixed author, no repository above. */
export function git(s: Sandbox, cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("GIT_"))),
      GIT_CONFIG_GLOBAL: join(s.root, "gitconfig"),
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CEILING_DIRECTORIES: s.root,
      GIT_AUTHOR_NAME: "Tester",
      GIT_AUTHOR_EMAIL: "tester@example.com",
      GIT_COMMITTER_NAME: "Tester",
      GIT_COMMITTER_EMAIL: "tester@example.com",
    },
  }).trimEnd();
}
