/**
 * GET /api/v1/search in-process over a real embedded store: filters find versions, paging follows the
 * cursor, a grammar error is 400 INVALID pointing at the column, and the route is in the OpenAPI document.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API, buildFixture, expectError, type Fixture } from "./_fixture.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
});
afterAll(async () => {
  await fx.close();
});

const search = (query: Record<string, string>) =>
  fx.app.inject({ method: "GET", url: `${API}/search?${new URLSearchParams(query)}` });

describe("GET /search", () => {
  it("finds versions by metric, param, tag and data, ordered and paged", async () => {
    const found = await search({
      q: "metrics.accuracy > 0.85 and data = 'iris@1.0.0' order by metrics.accuracy desc",
    });
    expect(found.statusCode).toBe(200);
    expect(found.json()).toEqual({
      hits: [
        { kind: "version", artifact: "classifier", version: "0.2.0" },
        { kind: "version", artifact: "classifier", version: "0.1.0" },
      ],
      nextCursor: null,
    });
    const tagged = await search({ q: "tags.team = 'nlp' and params.lr = 0.01" });
    expect(tagged.json().hits).toEqual([{ kind: "version", artifact: "classifier", version: "0.1.0" }]);

    const first = await search({ q: "name = 'classifier' order by version", limit: "2" });
    const page1 = first.json() as { hits: { version: string }[]; nextCursor: string };
    expect(page1.hits.map((h) => h.version)).toEqual(["0.1.0", "0.2.0"]);
    const second = await search({
      q: "name = 'classifier' order by version",
      limit: "2",
      cursor: page1.nextCursor,
    });
    expect(second.json()).toEqual({
      hits: [{ kind: "version", artifact: "classifier", version: "1.0.0-rc.1" }],
      nextCursor: null,
    });
  });

  it("answers a grammar error with 400 INVALID pointing at the column", async () => {
    expectError(await search({ q: "metrics.accuracy > " }), 400, "INVALID", /expected a value at column 20/);
    expectError(await search({ q: "name = 'x'", kind: "models" }), 400, "INVALID");
  });

  it("keeps injection attempts inert", async () => {
    const answer = await search({ q: "tags.team = 'nlp'' or 1=1 --'" });
    expect(answer.json()).toEqual({ hits: [], nextCursor: null });
    expect((await search({ q: "" })).json().hits).toHaveLength(4);
  });

  it("is in the OpenAPI document", async () => {
    const doc = (await fx.app.inject({ method: "GET", url: `${API}/openapi.json` })).json() as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.paths)).toContain(`${API}/search`);
  });
});
