import { Writable } from "node:stream";
import type { MetadataStore } from "@cairn/core";
import { buildApp, schemas } from "@cairn/server";
import { openEmbeddedStore } from "@cairn/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API, buildFixture, expectError, expectShape, type Fixture } from "./_fixture.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
});
afterAll(async () => {
  await fx?.close();
});

const json = (method: "PUT" | "POST" | "PATCH", url: string, body: string, type = "application/json") =>
  fx.app.inject({ method, url: `${API}${url}`, payload: body, headers: { "content-type": type } });

describe("the error shape", () => {
  it("answers unknown routes and methods with NOT_FOUND in the error shape", async () => {
    for (const [method, url] of [
      ["GET", "/nope"],
      ["GET", "/api/v2/artifacts"],
      ["GET", `${API}/artifacts/classifier/versions/0.1.0/extra`],
      ["POST", `${API}/artifacts`],
      ["DELETE", `${API}/artifacts/classifier`],
    ] as const) {
      const res = await fx.app.inject({ method, url });
      expectError(res, 404, "NOT_FOUND", /no route/);
      expectShape(schemas.ErrorBody, res.json());
    }
  });

  it("answers malformed JSON, an empty JSON body and prototype poisoning with 400 INVALID", async () => {
    const url = "/artifacts/classifier/aliases/canary";
    expectError(await json("PUT", url, '{"version": "0.1.0"'), 400, "INVALID", /not valid JSON/);
    expectError(await json("PUT", url, ""), 400, "INVALID", /empty/);
    expectError(await json("PUT", url, '{"__proto__": {"admin": true}, "version": "0.1.0"}'), 400, "INVALID");
    expectError(await json("PUT", url, '"0.1.0"'), 400, "INVALID", /body must be object/);
    expectError(await json("PUT", url, "[]"), 400, "INVALID", /body must be object/);
    expectError(await json("PUT", url, "null"), 400, "INVALID");
  });

  it("answers a body in another format with 400 or 415, never 5xx", async () => {
    const url = "/artifacts/classifier/aliases/canary";
    expectError(await json("PUT", url, "<version/>", "application/xml"), 415, "INVALID", /content-type/);
    expectError(await json("PUT", url, "version=0.1.0", "text/plain"), 400, "INVALID");
  });

  it("survives JSON nested far deeper than any real request", async () => {
    const deep = `{"notes": ${"[".repeat(200_000)}${"]".repeat(200_000)}}`;
    const res = await json("PUT", "/artifacts/classifier/versions/0.1.0/notes", deep);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe("INVALID");
  });

  it("refuses a body over the size limit with 413 TOO_LARGE", async () => {
    const big = JSON.stringify({ notes: "x".repeat(1024 * 1024 + 10) });
    expectError(
      await json("PUT", "/artifacts/classifier/versions/0.1.0/notes", big),
      413,
      "TOO_LARGE",
      /limit/,
    );
    const small = buildApp({ store: fx.store, bodyLimit: 100 });
    try {
      const res = await small.inject({
        method: "PUT",
        url: `${API}/artifacts/classifier/versions/0.1.0/notes`,
        payload: { notes: "y".repeat(200) },
      });
      expectError(res, 413, "TOO_LARGE", /100 bytes/);
    } finally {
      await small.close();
    }
  });

  it("answers a badly encoded URL and an over-long URL part in the error shape", async () => {
    expectError(
      await fx.app.inject({ method: "GET", url: `${API}/resolve/%E0%A4%A` }),
      400,
      "INVALID",
      /encoded/,
    );
    const res = await fx.app.inject({ method: "GET", url: `${API}/resolve/${"a".repeat(20_000)}` });
    expect(res.statusCode).toBe(414);
    expect(res.json().error.code).toBe("INVALID");
  });

  it("logs an unexpected failure and answers 500 INTERNAL without its details", async () => {
    const logged: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        logged.push(String(chunk));
        done();
      },
    });
    // The real store (its prototype keeps the methods the auth gate uses) with one method failing.
    const meta: MetadataStore = Object.assign(Object.create(fx.store.meta) as MetadataStore, {
      listArtifacts: async () => {
        throw new Error("disk I/O error in /srv/secret/cairn.db");
      },
    });
    const app = buildApp({
      store: { meta, content: fx.store.content, close: async () => {} },
      logger: { level: "error", stream },
    });
    try {
      const res = await app.inject({
        method: "GET",
        url: `${API}/artifacts`,
        headers: { "x-request-id": "req-42" },
      });
      expectError(res, 500, "INTERNAL", /^internal error \(request req-42\)$/);
      expect(res.body).not.toContain("secret");
      expect(res.body).not.toContain("disk");
      expect(logged.join("")).toContain("/srv/secret/cairn.db");
      expect(logged.join("")).toContain("req-42");
    } finally {
      await app.close();
    }
  });
});

describe("requests", () => {
  it("carries a request id: the caller's when it is plain, else a fresh one", async () => {
    const mine = await fx.app.inject({
      method: "GET",
      url: "/healthz",
      headers: { "x-request-id": "abc-123" },
    });
    expect(mine.headers["x-request-id"]).toBe("abc-123");
    const odd = await fx.app.inject({
      method: "GET",
      url: "/healthz",
      headers: { "x-request-id": "a b\u0001" },
    });
    expect(odd.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers HEAD on a file with its headers and no body", async () => {
    const res = await fx.app.inject({
      method: "HEAD",
      url: `${API}/artifacts/classifier/versions/0.1.0/files/config.json`,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["etag"]).toBeDefined();
    expect(res.rawPayload.length).toBe(0);
  });

  it("answers /healthz", async () => {
    const res = await fx.app.inject({ method: "GET", url: "/healthz" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: "ok" });
  });
});

describe("store lifecycle", () => {
  it("opens a store it is given as a function when ready, and closes it when the app closes", async () => {
    let closed = 0;
    const app = buildApp({
      store: async () => {
        const store = await openEmbeddedStore(fx.home);
        return {
          ...store,
          close: async () => {
            closed++;
            await store.close();
          },
        };
      },
    });
    const res = await app.inject({
      method: "GET",
      url: `${API}/resolve/${encodeURIComponent("iris@1.0.0")}`,
    });
    expect(res.statusCode).toBe(200);
    expect(closed).toBe(0);
    await app.close();
    expect(closed).toBe(1);
  });
});
