/**
 * Closing the app while a route handler is still running: the store it uses stays open until the handler is
 * done, also when its client has gone (closing the server itself waits for open connections only).
 */
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { buildApp } from "@cairn/server";
import { openEmbeddedStore } from "@cairn/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../../cli/bin/cairn.js", import.meta.url));
const run = promisify(execFile);

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cairn-shutdown-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("closing the app", () => {
  it("keeps the store open until a handler whose client has gone is done", async () => {
    // The app opens the store and closes it when it closes.
    let store: Awaited<ReturnType<typeof openEmbeddedStore>> | undefined;
    const app = buildApp({
      store: async () => {
        store = await openEmbeddedStore(join(dir, ".cairn"));
        return store;
      },
    });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started!: () => void;
    const handlerStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    let clientGone!: () => void;
    const goneSeen = new Promise<void>((resolve) => {
      clientGone = resolve;
    });
    let outcome: string | undefined;
    // A slow read, as a handler waiting on a busy database would be.
    app.get("/slow-read", async (request) => {
      request.raw.once("close", clientGone);
      started();
      await released;
      try {
        const artifacts = await store!.meta.listArtifacts();
        outcome = `read ${artifacts.length} artifacts`;
      } catch (error) {
        outcome = `failed: ${(error as Error).message}`;
      }
      return { outcome };
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : 0;

    const client = new AbortController();
    const asked = fetch(`http://127.0.0.1:${port}/slow-read`, { signal: client.signal }).catch(
      () => "aborted",
    );
    await handlerStarted;
    client.abort();
    expect(await asked).toBe("aborted");
    await goneSeen;

    const serverClosed = once(app.server, "close");
    const closed = app.close();
    // No connection is left, so the server has closed; the handler still runs and the store must still be open.
    await serverClosed;
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await closed;
    expect(outcome).toBe("read 0 artifacts");
  });

  it("`cairn serve` on SIGTERM answers every request that reached it with 200 while under load, then exits 0", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, CAIRN_HOME: join(dir, ".cairn"), NO_COLOR: "1" };
    for (const name of ["CAIRN_URL", "CAIRN_TOKEN", "CAIRN_DATABASE_URL", "CAIRN_BLOB_URL"]) delete env[name];
    await writeFile(join(dir, "model.bin"), "weights");
    await run(process.execPath, [CLI, "push", "clf", join(dir, "model.bin"), "--version", "1.0.0"], { env });
    await run(process.execPath, [CLI, "alias", "set", "clf", "production", "1.0.0"], { env });
    const child = spawn(process.execPath, [CLI, "serve", "--port", "0", "--rate-limit", "off"], { env });
    let stderr = "";
    child.stderr.on("data", (piece) => {
      stderr += String(piece);
    });
    const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
    const base = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (piece) => {
        out += String(piece);
        const match = /listening on (http:\/\/\S+)\n/.exec(out);
        if (match) resolve(match[1]!);
      });
      child.on("exit", () => reject(new Error(`serve exited early: ${stderr}`)));
    });
    const url = `${base}/api/v1/resolve/${encodeURIComponent("clf@production")}`;

    // 16 clients asking one after another on kept-alive connections until the server goes away.
    const statuses: number[] = [];
    const client = async () => {
      for (;;) {
        try {
          const res = await fetch(url);
          await res.arrayBuffer();
          statuses.push(res.status);
        } catch {
          return; // refused or closed: the server stopped taking requests
        }
      }
    };
    const clients = Array.from({ length: 16 }, client);
    while (statuses.length < 200) await new Promise((resolve) => setImmediate(resolve));
    child.kill("SIGTERM");
    await Promise.all(clients);

    expect(await exited).toEqual({ code: 0, signal: null });
    expect(new Set(statuses)).toEqual(new Set([200]));
    const lines = stderr
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    expect(lines.some((l) => /shutting down/.test(l.msg))).toBe(true);
    // Every answer the clients saw was logged, also the ones given while draining.
    expect(lines.filter((l) => l.msg === "request completed").length).toBeGreaterThanOrEqual(statuses.length);
  });
});
