import { schemas } from "@cairn/server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { API, buildFixture, expectError, expectShape, type Fixture } from "./_fixture.js";

// Each test gets a fresh store: these routes change it.
let fx: Fixture;
beforeEach(async () => {
  fx = await buildFixture();
});
afterEach(async () => {
  await fx?.close();
});

const call = (method: "GET" | "PUT" | "POST" | "PATCH" | "DELETE", url: string, payload?: object) =>
  fx.app.inject({ method, url: `${API}${url}`, ...(payload === undefined ? {} : { payload }) });
const resolve = async (ref: string) => (await call("GET", `/resolve/${encodeURIComponent(ref)}`)).json();

describe("aliases", () => {
  it("lists an artifact's aliases", async () => {
    const res = await call("GET", "/artifacts/classifier/aliases");
    expect(res.statusCode).toBe(200);
    expectShape(schemas.AliasPage, res.json());
    expect(
      res.json().items.map((a: { alias: string; version: string }) => `${a.alias}=${a.version}`),
    ).toEqual(["production=0.2.0", "staging=0.2.0"]);
    expect(res.json().nextCursor).toBeNull();
    expectError(await call("GET", "/artifacts/ghost/aliases"), 404, "NOT_FOUND");
  });

  it("sets an alias, recording the move with the reason and the request's actor", async () => {
    const res = await call("PUT", "/artifacts/classifier/aliases/canary", {
      version: "1.0.0-rc.1",
      reason: "try it",
    });
    expect(res.statusCode).toBe(200);
    const event = res.json();
    expectShape(schemas.AliasEvent, event);
    expect(event).toMatchObject({
      artifact: "classifier",
      alias: "canary",
      action: "set",
      from: null,
      to: "1.0.0-rc.1",
      actor: "anonymous",
      reason: "try it",
    });
    expect((await resolve("classifier@canary")).version).toBe("1.0.0-rc.1");
  });

  it("refuses bad alias moves with the domain's codes", async () => {
    expectError(
      await call("PUT", "/artifacts/classifier/aliases/production", { version: "9.0.0" }),
      404,
      "NOT_FOUND",
    );
    expectError(
      await call("PUT", "/artifacts/classifier/aliases/production", { version: "0.2.0" }),
      409,
      "CONFLICT",
      /already points at 0\.2\.0/,
    );
    expectError(
      await call("PUT", "/artifacts/classifier/aliases/latest", { version: "0.1.0" }),
      400,
      "INVALID",
      /alias/,
    );
    expectError(
      await call("PUT", "/artifacts/classifier/aliases/Prod", { version: "0.1.0" }),
      400,
      "INVALID",
    );
    expectError(
      await call("PUT", "/artifacts/classifier/aliases/canary", {}),
      400,
      "INVALID",
      /body\.version is required/,
    );
    expectError(
      await call("PUT", "/artifacts/classifier/aliases/canary", { version: 1 }),
      400,
      "INVALID",
      /body\.version must be string/,
    );
    expectError(
      await call("PUT", "/artifacts/classifier/aliases/canary", { version: "0.1.0", force: true }),
      400,
      "INVALID",
      /body\.force is not a known field/,
    );
  });

  it("removes an alias, keeping the removal in the history", async () => {
    const res = await call("DELETE", "/artifacts/classifier/aliases/staging?reason=retired");
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ action: "remove", from: "0.2.0", to: null, reason: "retired" });
    expectError(await call("GET", `/resolve/${encodeURIComponent("classifier@staging")}`), 404, "NOT_FOUND");
    expectError(
      await call("DELETE", "/artifacts/classifier/aliases/staging"),
      404,
      "NOT_FOUND",
      /has no alias staging/,
    );
  });

  it("rolls production back to the version it held before, with or without a body", async () => {
    const res = await call("POST", "/artifacts/classifier/aliases/production/rollback", {
      reason: "latency",
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ action: "rollback", from: "0.2.0", to: "0.1.0", reason: "latency" });
    expect((await resolve("classifier@production")).version).toBe("0.1.0");
    // Nothing earlier than 0.1.0: a second rollback has nowhere to go.
    expectError(
      await fx.app.inject({ method: "POST", url: `${API}/artifacts/classifier/aliases/production/rollback` }),
      409,
      "CONFLICT",
      /no earlier target/,
    );
  });

  it("rolls back to a named version with `to`", async () => {
    const res = await call("POST", "/artifacts/classifier/aliases/staging/rollback", { to: "0.1.0" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ from: "0.2.0", to: "0.1.0" });
    expectError(
      await call("POST", "/artifacts/classifier/aliases/staging/rollback", { to: "5.0.0" }),
      404,
      "NOT_FOUND",
    );
  });

  it("answers the alias history oldest first, for one alias or all, paged", async () => {
    await call("POST", "/artifacts/classifier/aliases/production/rollback", {});
    const all = await call("GET", "/artifacts/classifier/aliases/history");
    expect(all.statusCode).toBe(200);
    expectShape(schemas.AliasEventPage, all.json());
    expect(all.json().items.map((e: { alias: string; to: string }) => `${e.alias}→${e.to}`)).toEqual([
      "production→0.1.0",
      "staging→0.2.0",
      "production→0.2.0",
      "production→0.1.0",
    ]);
    const production = (await call("GET", "/artifacts/classifier/aliases/history?alias=production")).json();
    expect(production.items.map((e: { action: string }) => e.action)).toEqual(["set", "set", "rollback"]);
    expect(production.items[1]).toMatchObject({ actor: "ada", reason: "passed eval" });

    const first = (
      await call("GET", "/artifacts/classifier/aliases/history?alias=production&limit=2")
    ).json();
    expect(first.items).toHaveLength(2);
    const rest = (
      await call(
        "GET",
        `/artifacts/classifier/aliases/history?alias=production&limit=2&cursor=${encodeURIComponent(first.nextCursor)}`,
      )
    ).json();
    expect([...first.items, ...rest.items]).toEqual(production.items);
    expect(rest.nextCursor).toBeNull();

    expectError(await call("GET", "/artifacts/ghost/aliases/history"), 404, "NOT_FOUND");
    expectError(await call("GET", "/artifacts/classifier/aliases/history?alias=Bad!"), 400, "INVALID");
  });
});

describe("tags and notes", () => {
  it("sets and removes labels, answering the version as it is now", async () => {
    const res = await call("PATCH", "/artifacts/classifier/versions/0.1.0/tags", {
      set: { reviewed: "yes", owner: "ml" },
      remove: ["team"],
    });
    expect(res.statusCode).toBe(200);
    expectShape(schemas.VersionView, res.json());
    expect(res.json().tags).toEqual({ owner: "ml", reviewed: "yes" });
    expect((await resolve("classifier@0.1.0")).tags).toEqual({ owner: "ml", reviewed: "yes" });
  });

  it("refuses an empty edit, bad keys and non-string values", async () => {
    expectError(
      await call("PATCH", "/artifacts/classifier/versions/0.1.0/tags", {}),
      400,
      "INVALID",
      /set or to remove/,
    );
    expectError(
      await call("PATCH", "/artifacts/classifier/versions/0.1.0/tags", { set: { "bad key": "x" } }),
      400,
      "INVALID",
      /invalid tag key/,
    );
    expectError(
      await call("PATCH", "/artifacts/classifier/versions/0.1.0/tags", { set: { n: 1 } }),
      400,
      "INVALID",
      /body\.set\.n must be string/,
    );
    expectError(
      await call("PATCH", "/artifacts/classifier/versions/4.0.0/tags", { set: { a: "b" } }),
      404,
      "NOT_FOUND",
    );
  });

  it("replaces the release notes", async () => {
    const res = await call("PUT", "/artifacts/classifier/versions/0.2.0/notes", {
      notes: "# 0.2.0\nFaster.",
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().notes).toBe("# 0.2.0\nFaster.");
    expectError(
      await call("PUT", "/artifacts/classifier/versions/0.2.0/notes", { text: "x" }),
      400,
      "INVALID",
    );
  });
});

describe("audit log", () => {
  it("records every mutation under the request's actor, newest first", async () => {
    await call("PATCH", "/artifacts/classifier/versions/0.1.0/tags", { set: { a: "b" } });
    await call("PUT", "/artifacts/classifier/versions/0.1.0/notes", { notes: "n" });
    const res = await call("GET", "/audit?limit=2");
    expect(res.statusCode).toBe(200);
    expectShape(schemas.AuditPage, res.json());
    expect(
      res.json().items.map((e: { action: string; actor: string }) => `${e.action} by ${e.actor}`),
    ).toEqual(["version.notes by anonymous", "version.tag by anonymous"]);
  });

  it("pages through every event exactly once, and filters by artifact", async () => {
    const everything = (await call("GET", "/audit?limit=1000")).json();
    expect(everything.nextCursor).toBeNull();
    const ids: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: Array<{ id: number }>; nextCursor: string | null } = (
        await call("GET", `/audit?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`)
      ).json();
      ids.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(ids).toEqual(everything.items.map((e: { id: number }) => e.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));

    const iris = (await call("GET", "/audit?artifact=iris")).json();
    expect(iris.items.map((e: { action: string }) => e.action)).toEqual(["version.create"]);
    expectError(await call("GET", "/audit?artifact=ghost"), 404, "NOT_FOUND");
    expectError(await call("GET", "/audit?cursor=abc"), 400, "INVALID", /cursor/);
  });
});

describe("stats", () => {
  it("answers logical and stored bytes per artifact and overall, as `cairn stats --json` does", async () => {
    const res = await call("GET", "/stats");
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expectShape(schemas.StatsView, body);
    expect(body.artifacts.map((a: { artifact: string }) => a.artifact)).toEqual(["classifier", "iris"]);
    const classifier = body.artifacts[0];
    expect(classifier.versions).toBe(3);
    // 0.2.0 and the rc share model.bin, and 0.2.0's model.bin shares its first 200 KiB with 0.1.0's.
    expect(classifier.storedBytes).toBeLessThan(classifier.logicalBytes);
    expect(body.overall).toMatchObject({ artifact: null, versions: 4 });
    expect(body.overall.packBytes).toBeGreaterThanOrEqual(body.overall.storedBytes);

    const one = (await call("GET", "/stats?artifact=iris")).json();
    expect(one.artifacts.map((a: { artifact: string }) => a.artifact)).toEqual(["iris"]);
    expectError(await call("GET", "/stats?artifact=ghost"), 404, "NOT_FOUND");
  });
});
