/**
 * The operational limits around auth: the per-token (or per-address) rate limit, the JSON depth limit, and
 * `/metrics` in the Prometheus text format, counting requests, latencies, wire bytes and the store's bytes.
 */
import { Writable } from "node:stream";
import { buildApp, type CairnApp, parseRateLimit } from "@cairn/server";
import { mintToken } from "@cairn/storage";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API, buildFixture, expectError, type Fixture, issueToken } from "./_fixture.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
});
afterAll(async () => {
  await fx?.close();
});

const get = (app: CairnApp, url: string, token?: string) =>
  app.inject({ method: "GET", url, headers: token ? { authorization: `Bearer ${token}` } : {} });

describe("the rate limit", () => {
  it("answers 429 RATE_LIMITED with Retry-After once a token has spent its burst, per token", async () => {
    const limited = await buildFixture({ app: { rateLimit: { perSecond: 1, burst: 5 } } });
    try {
      const a = await issueToken(limited, "a", "reader");
      const b = await issueToken(limited, "b", "reader");
      for (let i = 0; i < 5; i++)
        expect((await get(limited.app, `${API}/artifacts`, a)).statusCode).toBe(200);
      const refused = await get(limited.app, `${API}/artifacts`, a);
      expectError(refused, 429, "RATE_LIMITED", /too many requests/);
      expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      // Another token has its own bucket.
      expect((await get(limited.app, `${API}/artifacts`, b)).statusCode).toBe(200);
      // Health checks from a load balancer are never limited.
      expect((await get(limited.app, "/healthz")).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it("limits callers without a token by address, failed token guesses included", async () => {
    const limited = await buildFixture({ app: { rateLimit: { perSecond: 1, burst: 3 } } });
    try {
      await issueToken(limited, "a", "reader");
      const { token: guess } = mintToken();
      for (let i = 0; i < 3; i++)
        expectError(await get(limited.app, `${API}/artifacts`, guess), 401, "UNAUTHORIZED");
      expectError(await get(limited.app, `${API}/artifacts`, guess), 429, "RATE_LIMITED");
      expectError(await get(limited.app, `${API}/artifacts`), 429, "RATE_LIMITED");
    } finally {
      await limited.close();
    }
  });

  it("refills over time", async () => {
    const limited = await buildFixture({ app: { rateLimit: { perSecond: 20, burst: 1 } } });
    try {
      expect((await get(limited.app, `${API}/artifacts`)).statusCode).toBe(200);
      expect((await get(limited.app, `${API}/artifacts`)).statusCode).toBe(429);
      await new Promise((resolve) => setTimeout(resolve, 120));
      expect((await get(limited.app, `${API}/artifacts`)).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it("reads --rate-limit as N/s, N/min or off", () => {
    expect(parseRateLimit("2000/s")).toEqual({ perSecond: 2000, burst: 2000 });
    expect(parseRateLimit("120/min")).toEqual({ perSecond: 2, burst: 120 });
    expect(parseRateLimit("off")).toBe(false);
    for (const bad of ["fast", "0/s", "-1/s", "10/h", ""]) {
      expect(() => parseRateLimit(bad)).toThrow(/--rate-limit takes/);
    }
  });
});

describe("the JSON depth limit", () => {
  const notes = (body: string) =>
    fx.app.inject({
      method: "PUT",
      url: `${API}/artifacts/classifier/versions/0.1.0/notes`,
      payload: body,
      headers: { "content-type": "application/json" },
    });

  it("refuses a body nested deeper than 32 levels before parsing it, whatever strings it holds", async () => {
    const nested = (depth: number) =>
      `{"notes": "x", "extra": ${"[".repeat(depth - 1)}${"]".repeat(depth - 1)}}`;
    expectError(await notes(nested(33)), 400, "INVALID", /nests deeper than 32 levels/);
    // 32 levels pass the parser (and are then refused by the schema, which knows no `extra`).
    expectError(await notes(nested(32)), 400, "INVALID", /extra is not a known field/);
    // Brackets inside strings are text, not nesting.
    const res = await notes(JSON.stringify({ notes: `${"[{".repeat(100)} \\" ${"]}".repeat(100)}` }));
    expect(res.statusCode).toBe(200);
  });
});

/** One parsed sample line of the Prometheus text format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses the Prometheus text exposition format strictly enough to fail on anything a scraper would reject:
 * every line a comment, blank, or `name{label="value",…} number`, and every sample of a declared family.
 */
function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  const sampleLine = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
  const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/;
  expect(text.endsWith("\n")).toBe(true);
  for (const line of text.slice(0, -1).split("\n")) {
    if (line === "") continue;
    const type = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (type) {
      expect(types.has(type[1]!), `TYPE declared twice: ${line}`).toBe(false);
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith("#")) {
      expect(line, "a comment").toMatch(new RegExp(`^# HELP ${NAME} .+$`));
      continue;
    }
    const match = sampleLine.exec(line);
    expect(match, `not a sample line: ${line}`).not.toBeNull();
    const [, name, labelText = "", valueText] = match!;
    const labels: Record<string, string> = {};
    let rest = labelText;
    while (rest !== "") {
      const l = label.exec(rest);
      expect(l, `bad labels in: ${line}`).not.toBeNull();
      labels[l![1]!] = l![2]!;
      rest = rest.slice(l![0].length);
    }
    const value = valueText === "+Inf" ? Infinity : valueText === "-Inf" ? -Infinity : Number(valueText);
    expect(valueText === "NaN" || !Number.isNaN(value), `bad value in: ${line}`).toBe(true);
    const family = name!.replace(/_(bucket|sum|count)$/, "");
    expect(types.has(name!) || types.get(family) === "histogram", `no TYPE for ${name}`).toBe(true);
    samples.push({ name: name!, labels, value });
  }
  return { types, samples };
}

const find = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

describe("/metrics", () => {
  it("is Prometheus text that counts requests by route and status, with latency histograms", async () => {
    const app = buildApp({ store: fx.store });
    try {
      for (let i = 0; i < 3; i++)
        await get(app, `${API}/resolve/${encodeURIComponent("classifier@production")}`);
      await get(app, `${API}/resolve/${encodeURIComponent("classifier@canary")}`);
      await get(app, `${API}/nope`);
      const res = await get(app, "/metrics");
      expect(res.statusCode).toBe(200);
      expect(res.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
      const { types, samples } = parsePrometheus(res.body);

      expect(types.get("cairn_http_requests_total")).toBe("counter");
      expect(types.get("cairn_http_request_duration_seconds")).toBe("histogram");
      const route = `${API}/resolve/:ref`;
      expect(
        find(samples, "cairn_http_requests_total", { method: "GET", route, status: "200" })[0]?.value,
      ).toBe(3);
      expect(
        find(samples, "cairn_http_requests_total", { method: "GET", route, status: "404" })[0]?.value,
      ).toBe(1);
      expect(
        find(samples, "cairn_http_requests_total", { route: "unmatched", status: "404" })[0]?.value,
      ).toBe(1);

      const buckets = find(samples, "cairn_http_request_duration_seconds_bucket", { method: "GET", route });
      expect(buckets.length).toBeGreaterThan(5);
      const counts = buckets.map((b) => b.value);
      expect(counts).toEqual([...counts].sort((x, y) => x - y));
      expect(buckets.at(-1)?.labels["le"]).toBe("+Inf");
      expect(buckets.at(-1)?.value).toBe(4);
      expect(find(samples, "cairn_http_request_duration_seconds_count", { route })[0]?.value).toBe(4);
      expect(find(samples, "cairn_http_request_duration_seconds_sum", { route })[0]?.value).toBeGreaterThan(
        0,
      );

      // The store's bytes, as /stats reports them.
      const stats = (await get(app, `${API}/stats`)).json().overall;
      expect(find(samples, "cairn_store_logical_bytes")[0]?.value).toBe(stats.logicalBytes);
      expect(find(samples, "cairn_store_stored_bytes")[0]?.value).toBe(stats.storedBytes);
      expect(find(samples, "cairn_store_pack_bytes")[0]?.value).toBe(stats.packBytes);
    } finally {
      await app.close();
    }
  });

  it("counts the bytes received and sent on real connections", async () => {
    const app = buildApp({ store: fx.store });
    try {
      await app.listen({ host: "127.0.0.1", port: 0 });
      const address = app.server.address();
      const base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
      const download = await fetch(`${base}${API}/artifacts/classifier/versions/0.1.0/files/model.bin`);
      const size = (await download.arrayBuffer()).byteLength;
      const upload = "n".repeat(200_000);
      const put = await fetch(`${base}${API}/artifacts/classifier/versions/0.1.0/notes`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ notes: upload }),
      });
      expect(put.status).toBe(200);
      await put.arrayBuffer();
      const { samples } = parsePrometheus(await (await fetch(`${base}/metrics`)).text());
      const received = find(samples, "cairn_http_received_bytes_total")[0]!.value;
      const sent = find(samples, "cairn_http_sent_bytes_total")[0]!.value;
      expect(received).toBeGreaterThanOrEqual(upload.length);
      expect(received).toBeLessThan(upload.length + 10_000);
      // The download, plus the notes echoed back in the PUT's answer.
      expect(sent).toBeGreaterThanOrEqual(size + upload.length);
      expect(sent).toBeLessThan(size + upload.length + 20_000);
    } finally {
      await app.close();
    }
  });

  it("needs a token like any read once the store has tokens", async () => {
    const secured = await buildFixture();
    try {
      const token = await issueToken(secured, "prometheus", "reader");
      expectError(await get(secured.app, "/metrics"), 401, "UNAUTHORIZED");
      expect((await get(secured.app, "/metrics", token)).statusCode).toBe(200);
    } finally {
      await secured.close();
    }
  });
});

describe("logs", () => {
  it("are JSON lines carrying the request id and the token's name, never the token", async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...String(chunk).trim().split("\n"));
        done();
      },
    });
    const logged = await buildFixture({ app: { logger: { level: "info", stream } } });
    try {
      const token = await issueToken(logged, "ci-bot", "writer");
      await logged.app.inject({
        method: "PUT",
        url: `${API}/artifacts/classifier/aliases/canary`,
        headers: { authorization: `Bearer ${token}`, "x-request-id": "req-7" },
        payload: { version: "0.1.0" },
      });
      await logged.app.inject({
        method: "GET",
        url: `${API}/artifacts`,
        headers: { "x-request-id": "req-8" },
      });
      const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(entries).toContainEqual(
        expect.objectContaining({ reqId: "req-7", actor: "ci-bot", msg: "request completed" }),
      );
      expect(entries).toContainEqual(
        expect.objectContaining({ reqId: "req-8", code: "UNAUTHORIZED", msg: "request refused" }),
      );
      expect(lines.join("\n")).not.toContain(token.slice("cairn_".length));
    } finally {
      await logged.close();
    }
  });

  it("of requests answered without error are written by cairn exactly as pino writes the others", async () => {
    // The same requests against a server logging as `cairn serve` configures it (those lines written by
    // request-log.ts) and one whose logger has an option of its own (every line pino's).
    const run = async (extra: object) => {
      const lines: string[] = [];
      const stream = { write: (line: string) => void lines.push(...line.trim().split("\n")) };
      const logged = await buildFixture({ app: { logger: { level: "info", stream, ...extra } } });
      try {
        const token = await issueToken(logged, "ci-bot", "writer");
        const requests = [
          {
            url: `${API}/artifacts?limit=2`,
            headers: { authorization: `Bearer ${token}`, "x-request-id": "a" },
          },
          { url: `${API}/resolve/classifier%40production`, headers: { authorization: `Bearer ${token}` } },
          {
            url: `${API}/artifacts/nope`,
            headers: { authorization: `Bearer ${token}`, "accept-version": "2" },
          },
          { url: `${API}/artifacts`, headers: { "x-request-id": "anonymous" } },
        ];
        for (const { url, headers } of requests) await logged.app.inject({ method: "GET", url, headers });
      } finally {
        await logged.close();
      }
      // What differs between any two runs: the time, the durations, generated request ids.
      return lines
        .map((line) =>
          line
            .replace(/"time":\d+/, '"time":0')
            .replace(/"responseTime":[\d.e+-]+/, '"responseTime":0')
            .replace(/"reqId":"[0-9a-f-]{36}"/, '"reqId":"generated"'),
        )
        .filter((line) => line.includes('"reqId"'));
    };
    const direct = await run({});
    const byPino = await run({ timestamp: pino.stdTimeFunctions.epochTime });
    expect(direct.filter((l) => l.includes('"msg":"request completed"'))).toHaveLength(4);
    expect(direct.some((l) => l.includes('"actor":"ci-bot"') && l.includes('"version":"2"'))).toBe(true);
    expect(direct).toEqual(byPino);
  });
});
