import { schemas } from "@cairn/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API, buildFixture, type Fixture } from "./_fixture.js";
import { appWithRoutes, type RegisteredRoute } from "./_routes.js";

interface Operation {
  summary?: string;
  parameters?: Array<{ name: string; in: string; required?: boolean; schema: unknown }>;
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}
type Doc = {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
};

let fx: Fixture;
let doc: Doc;
let registered: RegisteredRoute[];
beforeAll(async () => {
  fx = await buildFixture();
  const built = await appWithRoutes({ store: fx.store });
  registered = built.routes;
  await built.app.close();
  const res = await fx.app.inject({ method: "GET", url: `${API}/openapi.json` });
  expect(res.statusCode).toBe(200);
  expect(res.headers["content-type"]).toMatch(/^application\/json/);
  doc = res.json();
});
afterAll(async () => {
  await fx?.close();
});

/**
 * Routes deliberately left out of the document: the document itself, and Prometheus' text-format /metrics.
 * Any other route hidden from it fails the test below.
 */
const UNDOCUMENTED = [`GET ${API}/openapi.json`, "GET /metrics"];

/** Fastify's `/artifacts/:name/files/*` as OpenAPI writes it: `/artifacts/{name}/files/{*}`. */
const asOpenApiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, "{$1}").replace(/\*$/, "{*}");

const operations = (): Array<[string, Operation]> =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods)
      .filter(([method]) => ["get", "put", "post", "patch", "delete"].includes(method))
      .map(([method, op]) => [`${method} ${path}`, op] as [string, Operation]),
  );

/**
 * What @fastify/swagger writes for a schema: a record's `patternProperties: {"^.*$": X}` becomes the equivalent
 * `additionalProperties: X`, which OpenAPI tools know better.
 */
function asOpenApi(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(asOpenApi);
  if (schema === null || typeof schema !== "object") return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    const any = (value as Record<string, unknown>)?.["^.*$"];
    if (key === "patternProperties" && any !== undefined) out["additionalProperties"] = asOpenApi(any);
    else out[key] = asOpenApi(value);
  }
  return out;
}

describe("the OpenAPI document", () => {
  it("is OpenAPI 3.1 with a title and version", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.title).toBe("cairn");
    expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("lists exactly the routes Fastify has registered (HEAD routes, the document and /metrics left out)", () => {
    const documented = registered
      .filter((route) => !UNDOCUMENTED.includes(`${route.method} ${route.url}`))
      .map((route) => `${route.method.toLowerCase()} ${asOpenApiPath(route.url)}`);
    // A route hidden from the document (or one the document names that the server lacks) shows up here.
    expect(
      operations()
        .map(([key]) => key)
        .sort(),
    ).toEqual(documented.sort());
    expect(documented.length).toBeGreaterThan(20);
    for (const undocumented of UNDOCUMENTED) {
      expect(registered.map((r) => `${r.method} ${r.url}`)).toContain(undocumented);
    }
  });

  it("describes every operation: a summary, a success answer, and the error shape", () => {
    for (const [key, op] of operations()) {
      expect(op.summary, key).toBeTruthy();
      expect(op.responses["200"], key).toBeDefined();
      if (key !== "get /healthz") {
        const error = op.responses["404"]?.content?.["application/json"]?.schema;
        expect(error, key).toEqual(JSON.parse(JSON.stringify(schemas.ErrorBody)));
      }
    }
  });

  it("declares every path parameter as required", () => {
    for (const [key, op] of operations()) {
      const inPath = [...key.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      const declared = (op.parameters ?? []).filter((p) => p.in === "path");
      expect(declared.map((p) => p.name).sort(), key).toEqual(inPath.sort());
      for (const p of declared) expect(p.required, `${key} ${p.name}`).toBe(true);
    }
  });

  it("documents request bodies with the very schemas that validate them", () => {
    const body = (key: string) => doc.paths[key.split(" ")[1]!]![key.split(" ")[0]!]!.requestBody;
    const plain = (schema: unknown) => asOpenApi(JSON.parse(JSON.stringify(schema)));
    expect(body(`put ${API}/artifacts/{name}/aliases/{alias}`)?.content["application/json"]?.schema).toEqual(
      plain(schemas.SetAliasBody),
    );
    expect(
      body(`patch ${API}/artifacts/{name}/versions/{version}/tags`)?.content["application/json"]?.schema,
    ).toEqual(plain(schemas.TagsBody));
    expect(
      body(`put ${API}/artifacts/{name}/versions/{version}/notes`)?.content["application/json"]?.schema,
    ).toEqual(plain(schemas.NotesBody));
    expect(
      body(`post ${API}/artifacts/{name}/aliases/{alias}/rollback`)?.content["application/json"]?.schema,
    ).toEqual(plain(schemas.RollbackBody));
  });

  it("documents query parameters with their bounds", () => {
    const list = doc.paths[`${API}/artifacts/{name}/versions`]!.get!;
    const limit = list.parameters?.find((p) => p.name === "limit" && p.in === "query");
    expect(limit?.schema).toMatchObject({ type: "integer", minimum: 1, maximum: 1000 });
    expect(list.parameters?.find((p) => p.name === "cursor")?.in).toBe("query");
  });

  it("documents metrics as numbers or the strings NaN, Infinity and -Infinity", () => {
    const view = doc.paths[`${API}/resolve/{ref}`]!.get!.responses["200"]!.content!["application/json"]!
      .schema as {
      properties: { metrics: { additionalProperties: { anyOf: unknown[] } } };
    };
    expect(view.properties.metrics.additionalProperties.anyOf).toEqual([
      { type: "number" },
      { type: "string", const: "NaN" },
      { type: "string", const: "Infinity" },
      { type: "string", const: "-Infinity" },
    ]);
  });
});
