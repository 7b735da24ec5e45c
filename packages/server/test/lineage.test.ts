/**
 * GET /api/v1/lineage in-process over a real embedded store: the fixture's dataset and the versions trained
 * on it, both ways; an unknown ref is 404; the route is in the OpenAPI document.
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

const lineage = (query: Record<string, string>) =>
  fx.app.inject({ method: "GET", url: `${API}/lineage?${new URLSearchParams(query)}` });

describe("GET /lineage", () => {
  it("walks down from a dataset and up from an alias", async () => {
    const down = await lineage({ ref: "iris@1.0.0", direction: "down" });
    expect(down.statusCode).toBe(200);
    expect(down.json()).toEqual({
      root: "iris@1.0.0",
      nodes: ["classifier@0.1.0", "classifier@0.2.0", "iris@1.0.0"],
      edges: [
        { from: "iris@1.0.0", to: "classifier@0.1.0", kind: "data" },
        { from: "iris@1.0.0", to: "classifier@0.2.0", kind: "data" },
      ],
    });
    const up = await lineage({ ref: "classifier@production", direction: "up" });
    expect(up.json().root).toBe("classifier@0.2.0");
    expect(up.json().nodes).toEqual(["classifier@0.2.0", "iris@1.0.0"]);
  });

  it("answers unknown refs and runs with 404 and a bad depth with 400", async () => {
    expectError(await lineage({ ref: "nope@1.0.0" }), 404, "NOT_FOUND");
    expectError(await lineage({ ref: "no-such-run" }), 404, "NOT_FOUND");
    expect((await lineage({ ref: "iris@1.0.0", depth: "0" })).statusCode).toBe(400);
  });

  it("is in the OpenAPI document", async () => {
    const doc = (await fx.app.inject({ method: "GET", url: `${API}/openapi.json` })).json() as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.paths)).toContain(`${API}/lineage`);
  });
});
