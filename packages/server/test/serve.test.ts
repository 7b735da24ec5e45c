/**
 * The one real-socket test: `cairn serve --port 0` as a child process over a store, driven with fetch, then
 * stopped with SIGTERM. Its answers are compared with what the embedded CLI prints for the same store.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API, buildFixture, bytesOf } from "./_fixture.js";

const CLI = fileURLToPath(new URL("../../cli/bin/cairn.js", import.meta.url));
const run = promisify(execFile);

let dir: string;
let home: string;
let files: Map<string, Buffer>;
let child: ChildProcess;
let base: string;
let stderr = "";
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

function env(): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = { ...process.env, CAIRN_HOME: home, NO_COLOR: "1" };
  for (const name of ["CAIRN_URL", "CAIRN_TOKEN", "CAIRN_DATABASE_URL", "CAIRN_BLOB_URL", "CAIRN_DEBUG"]) {
    delete clean[name];
  }
  return clean;
}

async function cliJson(...args: string[]): Promise<unknown> {
  const { stdout } = await run(process.execPath, [CLI, ...args, "--json"], { cwd: dir, env: env() });
  return JSON.parse(stdout);
}

beforeAll(async () => {
  const fx = await buildFixture();
  ({ dir, home, files } = fx);
  // Large enough that its download is still in flight when SIGTERM arrives (socket buffers hold a few MB).
  await fx.publish("big", "1.0.0", { "weights.bin": bytesOf(48 * 1024 * 1024, 11) });
  await fx.app.close();
  await fx.store.close();

  child = spawn(process.execPath, [CLI, "serve", "--port", "0"], { cwd: dir, env: env() });
  exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  child.stderr?.on("data", (chunk) => {
    stderr += String(chunk);
  });
  base = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`no "listening on" line; stderr:\n${stderr}`)), 20_000);
    child.stdout?.on("data", (chunk) => {
      out += String(chunk);
      const match = /listening on (http:\/\/127\.0\.0\.1:(\d+))\n/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.on("exit", () => reject(new Error(`serve exited early; stderr:\n${stderr}`)));
  });
});

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("cairn serve on a real socket", () => {
  it("prints the real port it listens on", () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(base).not.toMatch(/:0$/);
  });

  it("answers /healthz", async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("resolves a ref to exactly what `cairn show --json` prints", async () => {
    const res = await fetch(`${base}${API}/resolve/${encodeURIComponent("classifier@production")}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(await cliJson("show", "classifier@production"));
  });

  it("diffs and reports stats exactly as `cairn diff --json` and `cairn stats --json` do", async () => {
    const diff = await fetch(
      `${base}${API}/diff?a=${encodeURIComponent("classifier@0.1.0")}&b=${encodeURIComponent("classifier@latest")}`,
    );
    expect(await diff.json()).toEqual(await cliJson("diff", "classifier@0.1.0", "classifier@latest"));
    const stats = await fetch(`${base}${API}/stats`);
    expect(await stats.json()).toEqual(await cliJson("stats"));
  });

  it("streams a file byte for byte", async () => {
    const res = await fetch(`${base}${API}/artifacts/classifier/versions/0.2.0/files/model.bin`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(files.get("classifier@0.2.0:model.bin")!)).toBe(true);
  });

  it("answers errors in the error shape over the wire", async () => {
    const res = await fetch(`${base}${API}/resolve/${encodeURIComponent("classifier@canary")}`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
  });

  it("answers a resolve with what another process committed just before (no stale kept answer)", async () => {
    const resolve = async (ref: string) => {
      const res = await fetch(`${base}${API}/resolve/${encodeURIComponent(ref)}`);
      expect(res.status).toBe(200);
      return (await res.json()) as { version: string; aliases: string[]; tags: Record<string, string> };
    };
    // Each round: the answer is kept (asked twice), then `cairn` in its own process changes it, and the very
    // next request must see the change.
    for (const target of ["0.1.0", "0.2.0", "0.1.0", "0.2.0"]) {
      await resolve("classifier@production");
      await resolve("classifier@production");
      await cliJson("alias", "set", "classifier", "production", target);
      const now = await resolve("classifier@production");
      expect(now.version).toBe(target);
      expect(now).toEqual(await cliJson("show", "classifier@production"));
    }
    // What changes the kept answer need not be the alias: a tag on the version it names.
    await cliJson("tag", "classifier@0.2.0", "reviewed=yes");
    expect((await resolve("classifier@production")).tags["reviewed"]).toBe("yes");
    // An alias removed by another process is gone on the next request, not answered from memory.
    await cliJson("alias", "set", "classifier", "canary", "0.1.0");
    expect((await resolve("classifier@canary")).version).toBe("0.1.0");
    await cliJson("alias", "rm", "classifier", "canary");
    const gone = await fetch(`${base}${API}/resolve/${encodeURIComponent("classifier@canary")}`);
    expect(gone.status).toBe(404);
  });

  it("answers a resolve with what this server itself committed just before", async () => {
    for (const target of ["0.1.0", "0.2.0"]) {
      await fetch(`${base}${API}/resolve/${encodeURIComponent("classifier@staging")}`);
      const moved = await fetch(`${base}${API}/artifacts/classifier/aliases/staging`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ version: target }),
      });
      expect(moved.status).toBe(200);
      const res = await fetch(`${base}${API}/resolve/${encodeURIComponent("classifier@staging")}`);
      expect(((await res.json()) as { version: string }).version).toBe(target);
    }
  });

  it("on SIGTERM finishes the download in flight, then exits 0 with JSON logs on stderr and the port closed", async () => {
    const res = await fetch(`${base}${API}/artifacts/big/versions/1.0.0/files/weights.bin`);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const received: Uint8Array[] = [];
    const first = await reader.read();
    received.push(first.value!);

    child.kill("SIGTERM");
    // The server keeps going while the download is unfinished.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(child.exitCode).toBeNull();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received.push(value);
    }
    expect(Buffer.concat(received).equals(files.get("big@1.0.0:weights.bin")!)).toBe(true);

    expect(await exited).toEqual({ code: 0, signal: null });
    const logs = stderr
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { level: number; msg: string; reqId?: string });
    expect(logs.some((l) => l.msg === "request completed" && typeof l.reqId === "string")).toBe(true);
    expect(logs.some((l) => /shutting down/.test(l.msg))).toBe(true);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});
