/**
 * `cairn serve` and auth, as a child process: with no tokens it stays on loopback (and says so), refuses any
 * other address; with tokens it listens where asked and enforces them, even after the last one is revoked.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Registry } from "@cairn/core";
import { mintToken, openEmbeddedStore } from "@cairn/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { API } from "./_fixture.js";

const CLI = fileURLToPath(new URL("../../cli/bin/cairn.js", import.meta.url));

let dir: string;
let home: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cairn-auth-serve-"));
  home = join(dir, ".cairn");
  const store = await openEmbeddedStore(home);
  await store.close();
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  await rm(dir, { recursive: true, force: true });
});

function env(): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = { ...process.env, CAIRN_HOME: home, NO_COLOR: "1", CAIRN_ACTOR: "tester" };
  for (const name of ["CAIRN_URL", "CAIRN_TOKEN", "CAIRN_DATABASE_URL", "CAIRN_BLOB_URL", "CAIRN_DEBUG"]) {
    delete clean[name];
  }
  return clean;
}

interface Served {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function serve(...args: string[]): Served {
  const child = spawn(process.execPath, [CLI, "serve", ...args], { cwd: dir, env: env() });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (text: string) => {
    out += text;
  });
  child.stderr!.setEncoding("utf8").on("data", (text: string) => {
    err += text;
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** The port from the "listening on" line, once it is printed. */
async function port(served: Served): Promise<number> {
  for (let waited = 0; waited < 20_000; waited += 50) {
    const match = /listening on http:\/\/[^:]+:(\d+)\n/.exec(served.stdout());
    if (match) return Number(match[1]);
    if (served.child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no "listening on" line; stderr:\n${served.stderr()}`);
}

async function withRegistry<T>(body: (registry: Registry) => Promise<T>): Promise<T> {
  const store = await openEmbeddedStore(home);
  try {
    return await body(new Registry({ meta: store.meta, content: store.content, actor: "tester" }));
  } finally {
    await store.close();
  }
}

async function issue(name: string): Promise<string> {
  const { token, secretHash } = mintToken();
  await withRegistry((r) => r.createToken(name, "admin", secretHash));
  return token;
}

describe("cairn serve without tokens", () => {
  it("refuses to listen on another address than loopback, with a clear error and exit 1", async () => {
    const served = serve("--host", "0.0.0.0", "--port", "0");
    expect(await served.exited).toBe(1);
    expect(served.stdout()).toBe("");
    expect(served.stderr()).toMatch(/^error: refusing to listen on 0\.0\.0\.0: the store has no tokens/);
    expect(served.stderr()).toMatch(/hint: .*cairn token create --role admin/);

    const json = serve("--host", "::", "--port", "0", "--json");
    expect(await json.exited).toBe(1);
    expect(JSON.parse(json.stdout())).toMatchObject({ error: { code: "INVALID" } });
  });

  it("listens on loopback, open, and says so on stderr", async () => {
    const served = serve("--port", "0");
    const base = `http://127.0.0.1:${await port(served)}`;
    const res = await fetch(`${base}${API}/artifacts`);
    expect(res.status).toBe(200);
    served.child.kill("SIGTERM");
    expect(await served.exited).toBe(0);
    // Read once the process has exited, so every log line is whole.
    const logs = served
      .stderr()
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { level: number; msg: string; auth?: string });
    expect(logs).toContainEqual(
      expect.objectContaining({ level: 40, auth: "open", msg: expect.stringMatching(/loopback only/) }),
    );
  });

  it("enforces tokens from the very next request once another process creates the first one", async () => {
    const served = serve("--port", "0");
    const base = `http://127.0.0.1:${await port(served)}`;
    // Asked twice while open, so that "no tokens" is the answer the server keeps.
    expect((await fetch(`${base}${API}/artifacts`)).status).toBe(200);
    expect((await fetch(`${base}${API}/artifacts`)).status).toBe(200);
    const token = await issue("ops");
    expect((await fetch(`${base}${API}/artifacts`)).status).toBe(401);
    const withToken = await fetch(`${base}${API}/artifacts`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(withToken.status).toBe(200);
    served.child.kill("SIGTERM");
    expect(await served.exited).toBe(0);
  });

  it("refuses a malformed --rate-limit as a usage error", async () => {
    const served = serve("--rate-limit", "lots", "--port", "0");
    expect(await served.exited).toBe(2);
    expect(served.stderr()).toMatch(/--rate-limit takes N\/s, N\/min or off/);
  });
});

describe("cairn serve with tokens", () => {
  it("listens on any address and enforces tokens, even once the last one is revoked", async () => {
    const token = await issue("ops");
    const served = serve("--host", "0.0.0.0", "--port", "0");
    const base = `http://127.0.0.1:${await port(served)}`;
    expect(served.stderr()).not.toMatch(/"auth":"open"/);

    expect((await fetch(`${base}${API}/artifacts`)).status).toBe(401);
    const ok = await fetch(`${base}${API}/artifacts`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    await withRegistry((r) => r.revokeToken("ops"));
    expect(
      (await fetch(`${base}${API}/artifacts`, { headers: { authorization: `Bearer ${token}` } })).status,
    ).toBe(401);
    // No tokens left, but this server is reachable from other machines: it does not fall back to open.
    expect((await fetch(`${base}${API}/artifacts`)).status).toBe(401);

    served.child.kill("SIGTERM");
    expect(await served.exited).toBe(0);
  });

  it("answers 429 with Retry-After past --rate-limit", async () => {
    const token = await issue("ops");
    const served = serve("--port", "0", "--rate-limit", "3/min");
    const base = `http://127.0.0.1:${await port(served)}`;
    const headers = { authorization: `Bearer ${token}` };
    for (let i = 0; i < 3; i++)
      expect((await fetch(`${base}${API}/artifacts`, { headers })).status).toBe(200);
    const refused = await fetch(`${base}${API}/artifacts`, { headers });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(1);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("RATE_LIMITED");
    served.child.kill("SIGTERM");
    expect(await served.exited).toBe(0);
  });
});
