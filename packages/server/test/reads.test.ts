import { schemas } from "@cairn/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API, buildFixture, expectError, expectShape, type Fixture } from "./_fixture.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
});
afterAll(async () => {
  await fx?.close();
});

const get = (url: string) => fx.app.inject({ method: "GET", url: `${API}${url}` });

describe("artifacts", () => {
  it("lists every artifact by name, with its version count and latest version", async () => {
    const res = await get("/artifacts");
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expectShape(schemas.ArtifactPage, body);
    expect(body.nextCursor).toBeNull();
    expect(body.items.map((a: { name: string }) => a.name)).toEqual(["classifier", "iris"]);
    expect(body.items[0]).toMatchObject({ type: "model", versionCount: 3, latestVersion: "1.0.0-rc.1" });
    expect(body.items[1]).toMatchObject({ type: "dataset", versionCount: 1, latestVersion: "1.0.0" });
  });

  it("pages the artifact list with cursors", async () => {
    const first = (await get("/artifacts?limit=1")).json();
    expect(first.items.map((a: { name: string }) => a.name)).toEqual(["classifier"]);
    expect(typeof first.nextCursor).toBe("string");
    const second = (await get(`/artifacts?limit=1&cursor=${encodeURIComponent(first.nextCursor)}`)).json();
    expect(second.items.map((a: { name: string }) => a.name)).toEqual(["iris"]);
    expect(second.nextCursor).toBeNull();
  });

  it("shows one artifact with the summary the list has and its current aliases", async () => {
    const res = await get("/artifacts/classifier");
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expectShape(schemas.ArtifactDetail, body);
    const listed = (await get("/artifacts")).json().items[0];
    expect({ ...body, aliases: undefined }).toEqual({ ...listed, aliases: undefined });
    expect(body.aliases.map((a: { alias: string; version: string }) => [a.alias, a.version])).toEqual([
      ["production", "0.2.0"],
      ["staging", "0.2.0"],
    ]);
  });

  it("answers NOT_FOUND for an unknown artifact and INVALID for an impossible name", async () => {
    expectError(await get("/artifacts/nope"), 404, "NOT_FOUND", /no artifact named nope/);
    expectError(await get("/artifacts/nope/versions"), 404, "NOT_FOUND");
    expectError(await get("/artifacts/-bad"), 400, "INVALID", /invalid artifact name/);
    expectError(await get(`/artifacts/${"a".repeat(201)}`), 400, "INVALID", /path\.name/);
  });
});

describe("versions", () => {
  it("lists an artifact's versions in sequence order, with NaN and ±Infinity metrics as strings", async () => {
    const res = await get("/artifacts/classifier/versions");
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expectShape(schemas.VersionPage, body);
    expect(body.items.map((v: { version: string; seq: number }) => [v.version, v.seq])).toEqual([
      ["0.1.0", 1],
      ["0.2.0", 2],
      ["1.0.0-rc.1", 3],
    ]);
    expect(body.items[0].metrics).toEqual({ accuracy: 0.9, loss: "NaN" });
    expect(body.items[1].metrics).toEqual({ accuracy: 0.93, loss: "Infinity", drift: "-Infinity" });
    expect(body.items[1].aliases).toEqual(["production", "staging"]);
  });

  it("pages versions: every version exactly once, in order, then a null cursor", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const body = (await get(`/artifacts/classifier/versions${query}`)).json();
      expect(body.items.length).toBeLessThanOrEqual(2);
      seen.push(...body.items.map((v: { version: string }) => v.version));
      cursor = body.nextCursor;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(seen).toEqual(["0.1.0", "0.2.0", "1.0.0-rc.1"]);
    expect(pages).toBe(2);
  });

  it("refuses a bad limit or cursor with INVALID naming it", async () => {
    expectError(await get("/artifacts/classifier/versions?limit=0"), 400, "INVALID", /query\.limit/);
    expectError(await get("/artifacts/classifier/versions?limit=1001"), 400, "INVALID", /query\.limit/);
    expectError(await get("/artifacts/classifier/versions?limit=1.5"), 400, "INVALID", /query\.limit/);
    expectError(await get("/artifacts/classifier/versions?limit=ten"), 400, "INVALID", /query\.limit/);
    expectError(await get("/artifacts/classifier/versions?cursor=garbage"), 400, "INVALID", /cursor/);
    // A cursor from another list is refused rather than misread.
    const artifactCursor = (await get("/artifacts?limit=1")).json().nextCursor;
    expectError(
      await get(`/artifacts/classifier/versions?cursor=${encodeURIComponent(artifactCursor)}`),
      400,
      "INVALID",
      /cursor/,
    );
  });

  it("shows one version in the shape `cairn show --json` prints", async () => {
    const res = await get("/artifacts/classifier/versions/0.2.0");
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expectShape(schemas.VersionView, body);
    expect(body).toMatchObject({
      name: "classifier",
      version: "0.2.0",
      seq: 2,
      type: "model",
      createdBy: "ada",
      params: { lr: 0.02, optimizer: { name: "adam" } },
      metrics: { accuracy: 0.93, loss: "Infinity", drift: "-Infinity" },
      data: ["iris@1.0.0"],
      aliases: ["production", "staging"],
      notes: "better",
    });
    expect(body.files.map((f: { path: string; mode: string }) => [f.path, f.mode])).toEqual([
      ["bin/run.sh", "0755"],
      ["config.json", "0644"],
      ["model.bin", "0644"],
    ]);
    expect(body.size).toBe(body.files.reduce((s: number, f: { size: number }) => s + f.size, 0));
  });

  it("answers NOT_FOUND for a missing version and INVALID for a version that is not semver", async () => {
    expectError(await get("/artifacts/classifier/versions/9.9.9"), 404, "NOT_FOUND", /classifier@9\.9\.9/);
    expectError(await get("/artifacts/classifier/versions/production"), 400, "INVALID", /not a semver/);
  });
});

describe("resolve", () => {
  const resolve = async (ref: string) => get(`/resolve/${encodeURIComponent(ref)}`);

  it.each([
    ["classifier@production", "0.2.0"],
    ["classifier@staging", "0.2.0"],
    ["classifier@0.1.0", "0.1.0"],
    ["classifier@latest", "0.2.0"],
    ["classifier", "0.2.0"],
    ["classifier@^0.1", "0.1.0"],
    ["classifier@>=0.1.0 <1.0.0", "0.2.0"],
    ["classifier#1", "0.1.0"],
    ["classifier#3", "1.0.0-rc.1"],
    ["iris@1", "1.0.0"],
  ])("%s names %s", async (ref, version) => {
    const res = await resolve(ref);
    expect(res.statusCode).toBe(200);
    expectShape(schemas.VersionView, res.json());
    expect(res.json().version).toBe(version);
  });

  it("answers NOT_FOUND naming what is missing, and INVALID for a malformed ref", async () => {
    expectError(await resolve("classifier@canary"), 404, "NOT_FOUND", /has no alias canary/);
    expectError(await resolve("classifier@^7"), 404, "NOT_FOUND", /no version of classifier matches/);
    expectError(await resolve("classifier#9"), 404, "NOT_FOUND");
    expectError(await resolve("ghost@production"), 404, "NOT_FOUND", /no artifact named ghost/);
    expectError(await resolve("classifier#0"), 400, "INVALID", /invalid ref/);
    expectError(await resolve("classifier@!!"), 400, "INVALID", /invalid ref/);
  });
});

describe("diff", () => {
  it("compares two refs: files, params, metric deltas (non-finite as strings), data and code", async () => {
    const res = await get(
      `/diff?a=${encodeURIComponent("classifier@0.1.0")}&b=${encodeURIComponent("classifier@production")}`,
    );
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expectShape(schemas.VersionDiff, body);
    expect(body.a).toBe("classifier@0.1.0");
    expect(body.b).toBe("classifier@0.2.0");
    expect(body.files).toEqual({ added: ["bin/run.sh"], removed: [], changed: ["model.bin"], unchanged: 1 });
    expect(body.params.changed).toEqual({ lr: [0.01, 0.02] });
    expect(body.metrics.accuracy.a).toBe(0.9);
    expect(body.metrics.accuracy.b).toBe(0.93);
    expect(body.metrics.accuracy.delta).toBeCloseTo(0.03);
    expect(body.metrics.loss).toEqual({ a: "NaN", b: "Infinity", delta: "NaN" });
    expect(body.metrics.drift).toEqual({ a: null, b: "-Infinity", delta: null });
    expect(body.data).toEqual({ added: [], removed: [] });
  });

  it("needs both refs, and names the one it cannot find", async () => {
    expectError(await get("/diff?a=classifier@0.1.0"), 400, "INVALID", /query\.b is required/);
    expectError(
      await get("/diff?a=classifier@0.1.0&b=classifier@9.0.0"),
      404,
      "NOT_FOUND",
      /classifier@9\.0\.0/,
    );
  });
});
