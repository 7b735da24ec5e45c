/**
 * The run routes in-process over a real embedded store: writers start and log to runs, readers only read;
 * bad batches are refused whole with INVALID; a changed param is 409; answers have the documented shapes
 * (non-finite metrics as the API's strings); the routes are in the OpenAPI document.
 */
import type { Role } from "@cairn/core";
import { runSchemas } from "@cairn/server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { API, buildFixture, expectError, expectShape, type Fixture, issueToken } from "./_fixture.js";

const { HistoryPage, RunView } = runSchemas;

let fx: Fixture;

const issue = (name: string, role: Role): Promise<string> => issueToken(fx, name, role);

function call(method: "GET" | "POST", url: string, payload?: object, token?: string) {
  return fx.app.inject({
    method,
    url: `${API}${url}`,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    ...(payload === undefined ? {} : { payload }),
  });
}

beforeEach(async () => {
  fx = await buildFixture();
});
afterEach(async () => {
  await fx.close();
});

describe("run routes", () => {
  it("start, log and read a run; non-finite values travel as strings; the shapes are the documented ones", async () => {
    const started = await call("POST", "/runs", {
      experiment: "exp",
      params: { lr: 0.1 },
      data: ["iris@1.0.0"],
    });
    expect(started.statusCode).toBe(200);
    const run = started.json() as { id: string; data: string[] };
    expect(run.data).toEqual(["iris@1.0.0"]);
    expectShape(RunView, run);
    const logged = await call("POST", `/runs/${run.id}/log`, {
      metrics: [
        { key: "loss", value: "NaN", step: 1 },
        { key: "loss", value: "-Infinity", step: 2 },
        { key: "acc", value: 0.5 },
      ],
      tags: { team: "nlp" },
    });
    expect(logged.json()).toEqual({ points: 3 });
    const got = (await call("GET", `/runs/${run.id}`)).json();
    expectShape(RunView, got);
    expect(got).toMatchObject({ metrics: { loss: "-Infinity", acc: 0.5 }, tags: { team: "nlp" } });
    const history = (await call("GET", `/runs/${run.id}/metrics?key=loss`)).json();
    expectShape(HistoryPage, history);
    expect((history as { points: { value: unknown }[] }).points.map((p) => p.value)).toEqual([
      "NaN",
      "-Infinity",
    ]);
    const page = (await call("GET", "/runs?experiment=exp&limit=1")).json() as { items: { id: string }[] };
    expect(page.items.map((r) => r.id)).toEqual([run.id]);
  });

  it("answers a changed param with 409 and refuses a bad batch whole with 400", async () => {
    const { id } = (await call("POST", "/runs", { params: { lr: 0.1 } })).json() as { id: string };
    expectError(await call("POST", `/runs/${id}/log`, { params: { lr: 0.2 } }), 409, "CONFLICT", /lr/);
    expectError(
      await call("POST", `/runs/${id}/log`, { metrics: [{ key: "loss", value: "nan" }] }),
      400,
      "INVALID",
    );
    expectError(
      await call("POST", `/runs/${id}/log`, {
        metrics: [
          { key: "ok", value: 1 },
          { key: "bad key!", value: 1 },
        ],
      }),
      400,
      "INVALID",
    );
    const run = (await call("GET", `/runs/${id}`)).json() as { metrics: object; params: object };
    expect(run.metrics).toEqual({});
    expect(run.params).toEqual({ lr: 0.1 });
    expectError(await call("GET", "/runs/0000000000zzzzzz"), 404, "NOT_FOUND");
    expectError(await call("POST", "/runs", { data: ["nothing@1.0.0"] }), 404, "NOT_FOUND");
  });

  it("takes a batch as per-metric series, and refuses series whose arrays differ in length", async () => {
    const { id } = (await call("POST", "/runs", {})).json() as { id: string };
    const logged = await call("POST", `/runs/${id}/log`, {
      series: [
        { key: "loss", steps: [1, 2, 3], values: [0.5, "NaN", 0.25], timestamps: [10, 20, 30] },
        { key: "acc", steps: [3], values: ["Infinity"] },
      ],
    });
    expect(logged.json()).toEqual({ points: 4 });
    const history = (await call("GET", `/runs/${id}/metrics?key=loss`)).json() as {
      points: { step: number; value: unknown; timestamp: number }[];
    };
    expect(history.points.map((p) => [p.step, p.value, p.timestamp])).toEqual([
      [1, 0.5, 10],
      [2, "NaN", 20],
      [3, 0.25, 30],
    ]);
    expect((await call("GET", `/runs/${id}`)).json()).toMatchObject({
      metrics: { loss: 0.25, acc: "Infinity" },
    });
    expectError(
      await call("POST", `/runs/${id}/log`, { series: [{ key: "loss", steps: [4, 5], values: [1] }] }),
      400,
      "INVALID",
      /same length/,
    );
  });

  it("lets writers write runs and readers only read them", async () => {
    const reader = await issue("rita", "reader");
    const writer = await issue("wes", "writer");
    expectError(await call("POST", "/runs", {}, reader), 403, "FORBIDDEN");
    const started = await call("POST", "/runs", {}, writer);
    expect(started.statusCode).toBe(200);
    const { id } = started.json() as { id: string };
    expect(started.json()).toMatchObject({ createdBy: "wes" });
    expectError(await call("POST", `/runs/${id}/log`, { tags: { a: "b" } }, reader), 403, "FORBIDDEN");
    expectError(await call("POST", `/runs/${id}/end`, {}, reader), 403, "FORBIDDEN");
    expect((await call("GET", `/runs/${id}`, undefined, reader)).statusCode).toBe(200);
    expect((await call("POST", `/runs/${id}/end`, { status: "failed" }, writer)).json()).toMatchObject({
      status: "failed",
    });
  });

  it("appear in the OpenAPI document", async () => {
    const doc = (await call("GET", "/openapi.json")).json() as { paths: Record<string, object> };
    for (const path of [
      "/runs",
      "/runs/{id}",
      "/runs/{id}/log",
      "/runs/{id}/artifacts",
      "/runs/{id}/end",
      "/runs/{id}/metrics",
      "/runs/{id}/promote",
    ]) {
      expect(Object.keys(doc.paths)).toContain(`${API}${path}`);
    }
  });
});
