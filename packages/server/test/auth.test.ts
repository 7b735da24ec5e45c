/**
 * Bearer tokens and roles over the real app, in-process: who may read, write and move protected aliases, what
 * the audit log records, and how tokens are kept.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Registry, type Role } from "@cairn/core";
import { buildApp, type CairnApp } from "@cairn/server";
import { EMBEDDED_DATABASE, hashToken, mintToken } from "@cairn/storage";
import Database from "better-sqlite3";
import type { RouteOptions } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { API, buildFixture, expectError, type Fixture, issueToken } from "./_fixture.js";

type Method = "GET" | "PUT" | "POST" | "PATCH" | "DELETE";

let fx: Fixture;
let tokens: Record<"reader" | "writer" | "admin", string>;

const issue = (name: string, role: Role): Promise<string> => issueToken(fx, name, role);

function call(method: Method, url: string, token?: string, payload?: object, app: CairnApp = fx.app) {
  return app.inject({
    method,
    url: `${API}${url}`,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    ...(payload === undefined ? {} : { payload }),
  });
}

beforeEach(async () => {
  fx = await buildFixture();
  tokens = {
    reader: await issue("dashboards", "reader"),
    writer: await issue("ci-bot", "writer"),
    admin: await issue("ops", "admin"),
  };
});
afterEach(async () => {
  await fx?.close();
});

/** Every route that writes (its declared access is more than `read`), with its path filled in. */
async function writeOperations(): Promise<Array<[Method, string]>> {
  const routes: RouteOptions[] = [];
  const app = buildApp({ store: fx.store });
  // Routes are registered when the app gets ready, so this hook sees each with its config.
  app.addHook("onRoute", (route) => {
    routes.push(route);
  });
  await app.ready();
  await app.close();
  const fill: Record<string, string> = {
    name: "classifier",
    version: "0.1.0",
    alias: "production",
    id: "00000000-0000-4000-8000-000000000000",
    "*": "model.bin",
  };
  const ops: Array<[Method, string]> = [];
  for (const route of routes) {
    const access = (route.config as { access?: string } | undefined)?.access;
    for (const method of [route.method].flat()) {
      const reads = access === "read" || access === "public" || (access === undefined && method === "GET");
      if (reads || method === "HEAD" || method === "OPTIONS") continue;
      const url = route.url.replace(/:([A-Za-z]+)|\*/g, (match, param: string | undefined) =>
        encodeURIComponent(fill[param ?? match] ?? "x"),
      );
      ops.push([method as Method, url.slice(API.length)]);
    }
  }
  return ops;
}

describe("without a valid token", () => {
  it("answers 401 UNAUTHORIZED on reads and writes, with WWW-Authenticate", async () => {
    for (const [method, url] of [
      ["GET", "/artifacts"],
      ["GET", `/resolve/${encodeURIComponent("classifier@production")}`],
      ["GET", "/artifacts/classifier/versions/0.1.0/files/model.bin"],
      ["GET", "/audit"],
      ["PUT", "/artifacts/classifier/aliases/production"],
      ["DELETE", "/tokens/ops"],
    ] as const) {
      const res = await call(method, url, undefined, method === "GET" ? undefined : { version: "0.1.0" });
      expectError(res, 401, "UNAUTHORIZED", /bearer token/);
      expect(res.headers["www-authenticate"]).toBe('Bearer realm="cairn"');
    }
  });

  it("refuses unknown, revoked-looking and malformed tokens alike", async () => {
    const { token: neverIssued } = mintToken();
    for (const authorization of [
      `Bearer ${neverIssued}`,
      "Bearer not-a-cairn-token",
      `Basic ${Buffer.from("ops:pw").toString("base64")}`,
      `Bearer ${tokens.admin} extra`,
      `Bearer ${tokens.admin.slice(0, -1)}`,
      "Bearer",
    ]) {
      const res = await fx.app.inject({ method: "GET", url: `${API}/artifacts`, headers: { authorization } });
      expectError(res, 401, "UNAUTHORIZED");
    }
  });

  it("leaves /healthz and the OpenAPI document public", async () => {
    expect((await fx.app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    const doc = await fx.app.inject({ method: "GET", url: `${API}/openapi.json` });
    expect(doc.statusCode).toBe(200);
    expect(doc.json().components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("answers unknown routes 401 too, so routes cannot be probed without a token", async () => {
    expectError(await call("GET", "/nope"), 401, "UNAUTHORIZED");
    expectError(await call("GET", "/nope", tokens.reader), 404, "NOT_FOUND");
  });
});

describe("a reader token", () => {
  it("reads everything", async () => {
    const res = await call("GET", `/resolve/${encodeURIComponent("classifier@production")}`, tokens.reader);
    expect(res.statusCode).toBe(200);
    expect(res.json().version).toBe("0.2.0");
    expect((await call("GET", "/artifacts/classifier/aliases/history", tokens.reader)).statusCode).toBe(200);
    expect((await call("GET", "/audit", tokens.reader)).statusCode).toBe(200);
    expect(
      (await call("GET", "/artifacts/iris/versions/1.0.0/files/iris.csv", tokens.reader)).statusCode,
    ).toBe(200);
  });

  it("gets 403 FORBIDDEN from every route that writes, and nothing changes", async () => {
    const ops = await writeOperations();
    expect(ops.length).toBeGreaterThanOrEqual(8);
    const before = (await call("GET", "/audit", tokens.admin)).json().items;
    for (const [method, url] of ops) {
      const res = await call(method, url, tokens.reader, method === "DELETE" ? undefined : {});
      expectError(res, 403, "FORBIDDEN", /reader token cannot/);
    }
    expect((await call("GET", "/audit", tokens.admin)).json().items).toEqual(before);
  });
});

describe("a writer token", () => {
  it("tags, writes notes and moves unprotected aliases", async () => {
    expect(
      (await call("PATCH", "/artifacts/classifier/versions/0.1.0/tags", tokens.writer, { set: { qa: "ok" } }))
        .statusCode,
    ).toBe(200);
    expect(
      (await call("PUT", "/artifacts/classifier/versions/0.1.0/notes", tokens.writer, { notes: "n" }))
        .statusCode,
    ).toBe(200);
    const moved = await call("PUT", "/artifacts/classifier/aliases/staging", tokens.writer, {
      version: "0.1.0",
    });
    expect(moved.statusCode).toBe(200);
    expect(moved.json()).toMatchObject({ to: "0.1.0", actor: "ci-bot" });
    expect(
      (await call("POST", "/artifacts/classifier/aliases/staging/rollback", tokens.writer)).statusCode,
    ).toBe(200);
    expect((await call("DELETE", "/artifacts/classifier/aliases/staging", tokens.writer)).statusCode).toBe(
      200,
    );
  });

  it("cannot protect aliases nor manage tokens", async () => {
    expectError(
      await call("PUT", "/artifacts/classifier/aliases/production/protection", tokens.writer, {
        protected: true,
      }),
      403,
      "FORBIDDEN",
      /writer token cannot protect/,
    );
    expectError(await call("GET", "/tokens", tokens.writer), 403, "FORBIDDEN");
    expectError(await call("POST", "/tokens", tokens.writer, { name: "x", role: "admin" }), 403, "FORBIDDEN");
  });
});

describe("protected aliases", () => {
  beforeEach(async () => {
    const res = await call("PUT", "/artifacts/classifier/aliases/production/protection", tokens.admin, {
      protected: true,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ alias: "production", version: "0.2.0", protected: true });
  });

  it("a writer cannot set, remove or roll back a protected alias (403), and it does not move", async () => {
    expectError(
      await call("PUT", "/artifacts/classifier/aliases/production", tokens.writer, { version: "0.1.0" }),
      403,
      "FORBIDDEN",
      /protected alias classifier@production: it needs admin/,
    );
    expectError(
      await call("POST", "/artifacts/classifier/aliases/production/rollback", tokens.writer),
      403,
      "FORBIDDEN",
    );
    expectError(
      await call("DELETE", "/artifacts/classifier/aliases/production", tokens.writer),
      403,
      "FORBIDDEN",
    );
    const now = await call("GET", `/resolve/${encodeURIComponent("classifier@production")}`, tokens.writer);
    expect(now.json().version).toBe("0.2.0");
    // Other aliases of the same artifact stay the writer's to move.
    expect(
      (await call("PUT", "/artifacts/classifier/aliases/staging", tokens.writer, { version: "0.1.0" }))
        .statusCode,
    ).toBe(200);
  });

  it("a writer cannot point a protected alias at a new version while publishing it", async () => {
    const writer = new Registry({
      meta: fx.store.meta,
      content: fx.store.content,
      actor: "ci-bot",
      role: "writer",
    });
    const file = (await fx.store.meta.getVersion("classifier", "0.2.0"))!.files[0]!;
    await expect(
      writer.publishVersion({ name: "classifier", version: "0.3.0", files: [file], aliases: ["production"] }),
    ).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(await fx.store.meta.getVersion("classifier", "0.3.0")).toBeNull();
    await expect(
      writer.publishVersion({ name: "classifier", version: "0.3.0", files: [file], aliases: ["canary"] }),
    ).resolves.toMatchObject({ version: "0.3.0", aliases: ["canary"] });
  });

  it("an admin moves it, and it stays protected", async () => {
    const moved = await call("PUT", "/artifacts/classifier/aliases/production", tokens.admin, {
      version: "0.1.0",
      reason: "hotfix",
    });
    expect(moved.statusCode).toBe(200);
    expect(moved.json()).toMatchObject({ from: "0.2.0", to: "0.1.0", actor: "ops" });
    expect(
      (await call("POST", "/artifacts/classifier/aliases/production/rollback", tokens.admin)).statusCode,
    ).toBe(200);
    const aliases = (await call("GET", "/artifacts/classifier/aliases", tokens.reader)).json().items;
    expect(aliases).toContainEqual(expect.objectContaining({ alias: "production", protected: true }));
  });

  it("once unprotected, writers may move it again", async () => {
    const res = await call("PUT", "/artifacts/classifier/aliases/production/protection", tokens.admin, {
      protected: false,
    });
    expect(res.json().protected).toBe(false);
    expect(
      (await call("PUT", "/artifacts/classifier/aliases/production", tokens.writer, { version: "0.1.0" }))
        .statusCode,
    ).toBe(200);
  });
});

describe("the audit log", () => {
  it("records every mutation under the name of the token that made it", async () => {
    await call("PATCH", "/artifacts/classifier/versions/0.1.0/tags", tokens.writer, { set: { qa: "ok" } });
    await call("PUT", "/artifacts/classifier/versions/0.1.0/notes", tokens.writer, { notes: "checked" });
    await call("PUT", "/artifacts/classifier/aliases/canary", tokens.writer, { version: "0.1.0" });
    await call("POST", "/artifacts/classifier/aliases/canary/rollback", tokens.writer, { to: "0.2.0" });
    await call("DELETE", "/artifacts/classifier/aliases/canary", tokens.writer);
    await call("PUT", "/artifacts/classifier/aliases/production/protection", tokens.admin, {
      protected: true,
    });
    await call("PUT", "/artifacts/classifier/aliases/production", tokens.admin, { version: "0.1.0" });
    await call("POST", "/tokens", tokens.admin, { name: "temp", role: "reader" });
    await call("DELETE", "/tokens/temp", tokens.admin);

    const items = (await call("GET", "/audit?limit=9", tokens.reader)).json().items as Array<{
      actor: string;
      action: string;
      target: string;
    }>;
    expect(items.map((e) => `${e.action} ${e.target} by ${e.actor}`).reverse()).toEqual([
      "version.tag classifier@0.1.0 by ci-bot",
      "version.notes classifier@0.1.0 by ci-bot",
      "alias.set classifier@canary by ci-bot",
      "alias.rollback classifier@canary by ci-bot",
      "alias.remove classifier@canary by ci-bot",
      "alias.protect classifier@production by ops",
      "alias.set classifier@production by ops",
      "token.create token:temp by ops",
      "token.revoke token:temp by ops",
    ]);
    const history = (
      await call("GET", "/artifacts/classifier/aliases/history?alias=canary", tokens.reader)
    ).json();
    expect(history.items.map((e: { actor: string }) => e.actor)).toEqual(["ci-bot", "ci-bot", "ci-bot"]);
  });
});

describe("tokens", () => {
  it("are stored as the sha256 of the secret: the database holds no secret, not even in its WAL", async () => {
    const path = join(fx.home, EMBEDDED_DATABASE);
    const db = new Database(path, { readonly: true });
    try {
      const rows = db.prepare("SELECT * FROM api_tokens ORDER BY name").all() as Array<
        Record<string, unknown>
      >;
      expect(rows.map((r) => r["name"])).toEqual(["ci-bot", "dashboards", "ops"]);
      expect(rows.find((r) => r["name"] === "ops")?.["secret_sha256"]).toBe(hashToken(tokens.admin));
      for (const row of rows) {
        for (const value of Object.values(row)) {
          for (const secret of Object.values(tokens)) expect(String(value)).not.toContain(secret);
        }
      }
    } finally {
      db.close();
    }
    for (const file of [path, `${path}-wal`]) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch {
        continue;
      }
      for (const secret of Object.values(tokens)) {
        expect(bytes.includes(secret)).toBe(false);
        // Neither the random part alone.
        expect(bytes.includes(secret.slice("cairn_".length))).toBe(false);
      }
    }
  });

  it("are 256-bit random secrets with a recognisable prefix, never repeated", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const { token, secretHash } = mintToken();
      expect(token).toMatch(/^cairn_[A-Za-z0-9_-]{43}$/);
      expect(secretHash).toMatch(/^[0-9a-f]{64}$/);
      seen.add(token);
    }
    expect(seen.size).toBe(200);
  });

  it("an admin creates one over the API, which works at once, and revokes it, which stops it at once", async () => {
    const created = await call("POST", "/tokens", tokens.admin, { name: "deploy", role: "writer" });
    expect(created.statusCode).toBe(200);
    expect(created.headers["cache-control"]).toBe("no-store");
    const body = created.json();
    expect(body).toMatchObject({ name: "deploy", role: "writer", createdBy: "ops" });
    expect(body.token).toMatch(/^cairn_/);

    const list = (await call("GET", "/tokens", tokens.admin)).json().items;
    expect(list.map((t: { name: string }) => t.name)).toEqual(["ci-bot", "dashboards", "deploy", "ops"]);
    expect(JSON.stringify(list)).not.toContain(body.token);

    const moved = await call("PUT", "/artifacts/classifier/aliases/canary", body.token, { version: "0.1.0" });
    expect(moved.json().actor).toBe("deploy");

    expect((await call("DELETE", "/tokens/deploy", tokens.admin)).json()).toMatchObject({ name: "deploy" });
    expectError(await call("GET", "/artifacts", body.token), 401, "UNAUTHORIZED", /unknown or revoked/);
    expectError(await call("DELETE", "/tokens/deploy", tokens.admin), 404, "NOT_FOUND");
    expectError(
      await call("POST", "/tokens", tokens.admin, { name: "ops", role: "reader" }),
      409,
      "CONFLICT",
      /already exists/,
    );
    expectError(
      await call("POST", "/tokens", tokens.admin, { name: "anonymous", role: "reader" }),
      400,
      "INVALID",
    );
    expectError(await call("POST", "/tokens", tokens.admin, { name: "x", role: "root" }), 400, "INVALID");
  });

  it("revoking a token in the store (as `cairn token revoke` does) turns its next request away", async () => {
    expect((await call("GET", "/artifacts", tokens.writer)).statusCode).toBe(200);
    await new Registry({ meta: fx.store.meta, content: fx.store.content, actor: "setup" }).revokeToken(
      "ci-bot",
    );
    expectError(await call("GET", "/artifacts", tokens.writer), 401, "UNAUTHORIZED");
    expect((await call("GET", "/artifacts", tokens.reader)).statusCode).toBe(200);
  });
});

describe("open mode", () => {
  it("with no tokens every request acts as anonymous; the first token turns auth on for everyone", async () => {
    const open = await buildFixture();
    try {
      const res = await call(
        "PUT",
        "/artifacts/classifier/aliases/canary",
        undefined,
        { version: "0.1.0" },
        open.app,
      );
      expect(res.statusCode).toBe(200);
      expect(res.json().actor).toBe("anonymous");

      const { secretHash } = mintToken();
      await new Registry({ meta: open.store.meta, content: open.store.content, actor: "setup" }).createToken(
        "first",
        "reader",
        secretHash,
      );
      expectError(await call("GET", "/artifacts", undefined, undefined, open.app), 401, "UNAUTHORIZED");
    } finally {
      await open.close();
    }
  });

  it("a server in `required` mode refuses everyone while the store has no tokens", async () => {
    const open = await buildFixture();
    const app = buildApp({ store: open.store, auth: "required" });
    try {
      expectError(await call("GET", "/artifacts", undefined, undefined, app), 401, "UNAUTHORIZED");
      expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    } finally {
      await app.close();
      await open.close();
    }
  });
});
