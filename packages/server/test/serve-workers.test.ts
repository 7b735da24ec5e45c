/**
 * `cairn serve --workers N`, run as a user runs it: N processes answer on one port, `/metrics` sums them all, a
 * worker that dies is replaced, a push through several workers is checked and pulls back identical, and SIGTERM
 * stops every one of them after the requests in flight.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../../cli/bin/cairn.js", import.meta.url));
const run = promisify(execFile);
const RESOLVE_ROUTE = "/api/v1/resolve/:ref";

interface LogLine {
  level: number;
  pid: number;
  msg: string;
  role?: string;
  worker?: number;
}

let dir: string;
let env: NodeJS.ProcessEnv;
const children: ChildProcess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cairn-workers-"));
  env = { ...process.env, CAIRN_HOME: join(dir, ".cairn"), NO_COLOR: "1" };
  for (const name of ["CAIRN_URL", "CAIRN_TOKEN", "CAIRN_DATABASE_URL", "CAIRN_BLOB_URL"]) delete env[name];
});
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

/** A `cairn serve` child: its URL once it listens, its log lines as they come, and how it exited. */
function serve(args: string[]) {
  const child = spawn(process.execPath, [CLI, "serve", ...args], { env });
  children.push(child);
  const lines: LogLine[] = [];
  const watchers: Array<{ test: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = [];
  let stderr = "";
  child.stderr!.on("data", (piece) => {
    stderr += String(piece);
    let end = stderr.indexOf("\n");
    while (end >= 0) {
      const text = stderr.slice(0, end);
      stderr = stderr.slice(end + 1);
      end = stderr.indexOf("\n");
      // Every line is one whole JSON object: the workers' writes never mix.
      const line = JSON.parse(text) as LogLine;
      lines.push(line);
      for (const watcher of watchers.splice(0)) {
        if (watcher.test(line)) watcher.resolve(line);
        else watchers.push(watcher);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const url = new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (piece) => {
      out += String(piece);
      const match = /listening on (http:\/\/\S+)\n/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.on("exit", () => reject(new Error("serve exited before listening")));
  });
  url.catch(() => {});
  /** The first log line, past or to come, that passes `test`. */
  const logged = (test: (line: LogLine) => boolean): Promise<LogLine> => {
    const seen = lines.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => watchers.push({ test, resolve }));
  };
  return { child, url, lines, logged, exited };
}

/** A GET on a connection of its own (so node:cluster hands it to the next worker): status and body. */
function getOnNewConnection(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let body = "";
      res.on("data", (piece) => {
        body += String(piece);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** The requests the metrics text counts for `route` with status 200. */
function answered(metrics: string, route: string): number {
  const line = metrics
    .split("\n")
    .find((l) => l.startsWith(`cairn_http_requests_total{method="GET",route="${route}",status="200"}`));
  return line === undefined ? 0 : Number(line.split(" ").pop());
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function seedRegistry(): Promise<void> {
  await writeFile(join(dir, "model.bin"), "weights");
  await run(process.execPath, [CLI, "push", "clf", join(dir, "model.bin"), "--version", "1.0.0"], { env });
  await run(process.execPath, [CLI, "alias", "set", "clf", "production", "1.0.0"], { env });
}

describe("cairn serve --workers", () => {
  it("answers from every worker on one port, sums /metrics over them, replaces a dead one, and stops them all on SIGTERM", async () => {
    await seedRegistry();
    const server = serve(["--port", "0", "--workers", "2", "--rate-limit", "off"]);
    const base = await server.url;
    const resolveUrl = `${base}/api/v1/resolve/${encodeURIComponent("clf@production")}`;

    // New connections go to the workers in turn: both answer, and neither is the primary.
    const answers = await Promise.all(Array.from({ length: 20 }, () => getOnNewConnection(resolveUrl)));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(JSON.parse(answers[0]!.body)).toMatchObject({ name: "clf", version: "1.0.0" });
    const primary = server.child.pid!;
    const completed = () => server.lines.filter((l) => l.msg === "request completed");
    const answering = () => new Set(completed().map((l) => l.pid));
    await server.logged(() => completed().length >= 20);
    expect(answering().size).toBe(2);
    expect(answering().has(primary)).toBe(false);

    // Whichever worker answers /metrics, it counts the other's requests too.
    for (let i = 0; i < 2; i++) {
      const metrics = await getOnNewConnection(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(answered(metrics.body, RESOLVE_ROUTE)).toBe(20);
    }

    // A worker killed outright is replaced; the server answers throughout.
    const listened = (l: LogLine) => l.msg.startsWith("Server listening");
    const first = new Set(server.lines.filter(listened).map((l) => l.pid));
    const [victim] = answering();
    process.kill(victim!, "SIGKILL");
    const died = await server.logged((l) => l.role === "primary" && /worker died/.test(l.msg));
    expect(died).toMatchObject({ worker: victim, level: 50 });
    const replacement = await server.logged((l) => listened(l) && !first.has(l.pid));
    const more = await Promise.all(Array.from({ length: 10 }, () => getOnNewConnection(resolveUrl)));
    expect(more.map((a) => a.status)).toEqual(Array(10).fill(200));
    await server.logged((l) => l.msg === "request completed" && l.pid === replacement.pid);
    // The dead worker's requests, as the last /metrics saw them, stay in the total: it never goes down.
    const after = await getOnNewConnection(`${base}/metrics`);
    expect(answered(after.body, RESOLVE_ROUTE)).toBe(30);

    server.child.kill("SIGTERM");
    expect(await server.exited).toEqual({ code: 0, signal: null });
    for (const pid of [...first, replacement.pid]) expect(isAlive(pid)).toBe(false);
    expect(server.lines.filter((l) => l.level >= 50 && l.role !== "primary")).toEqual([]);
  }, 60_000);

  // The client's packs go up on several connections at once, which the workers take in turn (the log shows
  // packs 1 and 2 of this push answered by different workers): none waits for a pack another worker took.
  it("a push through several workers is checked, recorded and pulls back identical, without waiting", async () => {
    const server = serve(["--port", "0", "--workers", "2", "--rate-limit", "off"]);
    const base = await server.url;
    const model = randomBytes(24 * 1024 * 1024);
    await writeFile(join(dir, "model.bin"), model);
    const remote = { ...env, CAIRN_URL: base };
    await run(process.execPath, [CLI, "push", "big", join(dir, "model.bin"), "--version", "1.0.0"], {
      env: remote,
    });
    await run(process.execPath, [CLI, "pull", "big@1.0.0", "-o", join(dir, "out")], { env: remote });
    const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
    expect(sha256(await readFile(join(dir, "out", "model.bin")))).toBe(sha256(model));
    const { stdout } = await run(process.execPath, [CLI, "verify", "--json"], { env });
    expect(JSON.parse(stdout)).toMatchObject({ ok: true });
    server.child.kill("SIGTERM");
    expect(await server.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it("refuses a bad --workers with USAGE and exit code 2, starting nothing", async () => {
    for (const bad of ["0", "-1", "two", "65", "1.5"]) {
      const failed = await run(process.execPath, [CLI, "serve", "--port", "0", "--workers", bad, "--json"], {
        env,
      }).catch((error: { code: number; stdout: string }) => error);
      expect(failed).toMatchObject({ code: 2 });
      expect(JSON.parse((failed as { stdout: string }).stdout).error.code).toBe("USAGE");
    }
  });

  it("a port in use is reported once, by the first worker, and serve exits 1", async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const server = serve(["--port", String(port), "--workers", "3"]);
      let stderr = "";
      server.child.stderr!.removeAllListeners("data");
      server.child.stderr!.on("data", (piece) => {
        stderr += String(piece);
      });
      expect(await server.exited).toEqual({ code: 1, signal: null });
      expect(stderr.match(/the port is in use/g)).toHaveLength(1);
    } finally {
      taken.close();
    }
  }, 60_000);
});
