/**
 * 10,000 random and malformed requests against a real server on a real socket (port 0, over a real embedded
 * store holding the fixture's versions): the request's parameters and bodies are made from each route's own
 * schema, then bent — wrong types, huge values, deep nesting, bad JSON, path traversal in file paths, bad refs
 * and versions, unknown routes and methods, oversize bodies, bad bearer tokens, malformed chunk frames — plus
 * raw bytes no HTTP client would send (NUL in the path, broken chunked transfer encoding, request smuggling).
 *
 * What must hold: no answer is a 5xx, every error answer is `{"error": {"code", "message"}}` with a known
 * code, the server never crashes, and afterwards it still serves the seeded bytes and takes a write.
 *
 * The generator is seeded; the seed is printed, and CAIRN_FUZZ_SEED=<seed> replays the same requests (with
 * fresh token secrets and upload session ids; their order on the server varies with the 16 connections).
 * CAIRN_FUZZ_REQUESTS changes how many are sent.
 */

import { createHash, randomInt } from "node:crypto";
import { Agent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { connect } from "node:net";
import { Writable } from "node:stream";
import { httpStatusOf, MAX_CHUNK_SIZE, type Role } from "@cairn/core";
import type { CairnApp } from "@cairn/server";
import { chunkHash, verifyStore } from "@cairn/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API, buildFixture, bytesOf, type Fixture, issueToken } from "./_fixture.js";
import { appWithRoutes, type RegisteredRoute } from "./_routes.js";

const SEED = Number(process.env["CAIRN_FUZZ_SEED"] ?? randomInt(2 ** 31));
const REQUESTS = Number(process.env["CAIRN_FUZZ_REQUESTS"] ?? 10_000);
const CONCURRENCY = 16;
const KNOWN_CODES = new Set([...Object.keys(httpStatusOf), "TOO_LARGE", "RATE_LIMITED"]);

// ---- a seeded generator ------------------------------------------------------------------------------------

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  hex(n: number): string {
    return this.bytes(Math.ceil(n / 2))
      .toString("hex")
      .slice(0, n);
  }
  text(max: number): string {
    const alphabet = "abcXYZ019-_.@#^~*%/\\:;?&=+ '\"<>{}[]\u0000\u0001\n\t\u00e9\u6a21\u{1F600}\ud800";
    const chars = Array.from(alphabet);
    let out = "";
    for (let i = this.int(max + 1); i > 0; i--) out += this.pick(chars);
    return out;
  }
}

// ---- the values requests are made of -------------------------------------------------------------------------

interface Pools {
  sha256: string[];
  chunks: string[];
  sessions: string[];
}

const NAMES = ["classifier", "iris", "nope", "", "Classifier", "a".repeat(201), "..", ".", "../etc", "a/b"];
const MORE_NAMES = ["cl@ss", "x y", "\u6a21\u578b", "-x", "_", "a\u0000b", "con", "a".repeat(20_000)];
const VERSIONS = ["0.1.0", "0.2.0", "1.0.0-rc.1", "1.0", "v1.0.0", "01.0.0", "1.0.0+build.1", "-1.0.0", ""];
const MORE_VERSIONS = ["99999999999999999999999.0.0", "1.0.0-", "latest", "^0.1", "1.0.0-rc.1.", "\u0000"];
const ALIASES = ["production", "staging", "canary", "", "Prod", "a".repeat(101), "../x", "latest", "1.0.0"];
const REF_TAILS = ["@0.1.0", "@production", "@staging", "@latest", "@^0.1", "@~0.2", "@*", "@>=1 <2"];
const MORE_REF_TAILS = ["#1", "#0", "#-1", "#99999999999999999999", "@", "@@x", "#", "#1.5", "@1.0.0-rc.1"];
const FILE_PATHS = [
  "model.bin",
  "config.json",
  "bin/run.sh",
  "../../../etc/passwd",
  "..%2f..%2f..%2fetc%2fpasswd",
  "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
  "%2e%2e/secret",
  "/etc/passwd",
  "%2Fetc%2Fpasswd",
  "model.bin%00.txt",
  "a%00b",
  "..%5c..%5cwindows%5cwin.ini",
  "./model.bin",
  "bin//run.sh",
  "bin/./run.sh",
  "bin/../config.json",
  "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
  "%ff%fe",
  "%",
  "%zz",
  "",
  "x".repeat(5000),
  "C:%5cwindows",
  "~/.ssh/id_rsa",
];
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "PROPFIND"];
const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "application/json; charset=utf-16",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/vnd.cairn.chunks",
  "application/octet-stream",
  "application/xml",
  "application/json;;;",
  "garbage",
];
const HUGE_NUMBERS = [1e308, -1e308, 2 ** 53 + 1, -(2 ** 63), 5e-324, 1.5, -0, 0, -1, 4294967296];

/** Sets an own property, even one named `__proto__` (which plain assignment would take as the prototype). */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const asText = (value: unknown): string =>
  typeof value === "string" ? value : (JSON.stringify(value) ?? "null");

/** Any JSON value, nested at most `depth` deep, with the awkward cases over-represented. */
function anyJson(g: Gen, depth: number): unknown {
  const kind = g.int(depth > 0 ? 9 : 6);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return g.chance(0.5);
    case 2:
      return g.pick(HUGE_NUMBERS);
    case 3:
      return g.text(20);
    case 4:
      return g.chance(0.02) ? "x".repeat(g.int(300_000)) : g.pick([...VERSIONS, ...NAMES.slice(0, 6)]);
    case 5:
      return g.int(1000);
    case 6:
    case 7: {
      const out: Record<string, unknown> = {};
      for (let i = g.int(4); i > 0; i--) {
        out[g.pick(["a", "version", "__proto__", "constructor", "prototype", g.text(8)])] = anyJson(
          g,
          depth - 1,
        );
      }
      return out;
    }
    default:
      return Array.from({ length: g.int(4) }, () => anyJson(g, depth - 1));
  }
}

interface JsonSchema {
  type?: string;
  const?: unknown;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  patternProperties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  pattern?: string;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}

/** A text value for a field, by what the field is: the seeded names, versions and paths are the likely ones. */
function textFor(g: Gen, field: string, schema: JsonSchema, pools: Pools): string {
  if (schema.pattern === "^[0-9a-f]{64}$") {
    if (field === "sha256" || field === "patch") return g.pick([...pools.sha256, g.hex(64), g.hex(63)]);
    return g.pick([...pools.chunks, g.hex(64), g.hex(64).toUpperCase()]);
  }
  if (schema.pattern?.includes("[0-9a-f]{8}-")) return g.pick([...pools.sessions, g.uuid()]);
  if (schema.pattern) return g.pick(["644", "0755", "777", "999", "-1"]);
  switch (field) {
    case "version":
    case "to":
      return g.pick(g.chance(0.8) ? VERSIONS : MORE_VERSIONS);
    case "alias":
      return g.pick(ALIASES);
    case "path":
      return decodeURIComponentSafe(g.pick(FILE_PATHS));
    case "name":
    case "artifact":
      return g.pick(g.chance(0.8) ? NAMES : MORE_NAMES);
    case "ref":
    case "a":
    case "b":
      return refText(g);
    case "cursor":
      return g.pick([g.text(10), Buffer.from('["versions",1]').toString("base64url"), "W10", "bnVsbA"]);
    default:
      return g.chance(0.1) ? "y".repeat((schema.maxLength ?? 100) + g.int(3)) : g.text(12);
  }
}

/** encodeURIComponent, except that a lone surrogate becomes the (invalid) UTF-8 bytes a sloppy client sends. */
const encode = (text: string): string =>
  Array.from(text, (c) => {
    try {
      return encodeURIComponent(c);
    } catch {
      return "%ED%A0%80";
    }
  }).join("");

const decodeURIComponentSafe = (text: string): string => {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

function refText(g: Gen): string {
  const name = g.chance(0.85) ? g.pick(["classifier", "iris"]) : g.pick(NAMES.concat(MORE_NAMES));
  return name + g.pick(g.chance(0.7) ? REF_TAILS : MORE_REF_TAILS);
}

/** A value that fits `schema` — mostly; the odd field is anything at all. */
function fromSchema(g: Gen, schema: JsonSchema, field: string, pools: Pools, depth = 0): unknown {
  if (depth > 6 || g.chance(0.03)) return anyJson(g, 2);
  if (schema.const !== undefined) return schema.const;
  if (schema.anyOf) return fromSchema(g, g.pick(schema.anyOf), field, pools, depth + 1);
  switch (schema.type) {
    case "object": {
      const out: Record<string, unknown> = {};
      const required = new Set(schema.required ?? []);
      for (const [key, value] of Object.entries(schema.properties ?? {})) {
        if (required.has(key) || g.chance(0.5)) out[key] = fromSchema(g, value, key, pools, depth + 1);
      }
      const record = schema.patternProperties && Object.values(schema.patternProperties)[0];
      if (record) {
        for (let i = g.int(4); i > 0; i--) {
          out[g.pick(["team", "lr", "accuracy", g.text(6)])] = fromSchema(g, record, field, pools, depth + 1);
        }
      }
      return out;
    }
    case "array":
      return Array.from({ length: g.int(4) }, () =>
        fromSchema(g, schema.items ?? {}, field === "data" ? "ref" : field, pools, depth + 1),
      );
    case "string":
      return textFor(g, field, schema, pools);
    case "integer":
      return g.chance(0.8) ? g.int(5) + (schema.minimum ?? 0) : g.pick(HUGE_NUMBERS);
    case "number":
      return g.chance(0.8) ? g.next() : g.pick(HUGE_NUMBERS);
    case "boolean":
      return g.chance(0.5);
    case "null":
      return null;
    default:
      return anyJson(g, 2);
  }
}

/** Changes one thing in a JSON value: a field of the wrong type, a field too many, a field left out. */
function mutate(g: Gen, value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value) || g.chance(0.1)) {
    return anyJson(g, 3);
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  const what = g.int(4);
  if (what === 0 || keys.length === 0)
    put(copy, g.pick(["extra", "__proto__", "constructor"]), anyJson(g, 2));
  else if (what === 1) delete copy[g.pick(keys)];
  else if (what === 2) copy[g.pick(keys)] = anyJson(g, 3);
  else {
    const key = g.pick(keys);
    copy[key] = mutate(g, copy[key]);
  }
  return copy;
}

/** JSON text that is broken in one of the usual ways. */
function badJson(g: Gen, text: string): string {
  switch (g.int(10)) {
    case 0:
      return text.slice(0, g.int(text.length));
    case 1:
      return `${text.slice(0, -1)},}`;
    case 2:
      return text.replace(/"/g, "'");
    case 3:
      return '{"version": NaN, "x": Infinity}';
    case 4:
      return `/* c */ ${text}`;
    case 5:
      return `${"[".repeat(g.int(100_000) + 33)}${"]".repeat(g.int(3) ? 0 : 100_033)}`;
    case 6:
      return `{"a":${'{"a":'.repeat(40)}1${"}".repeat(41)}`;
    case 7:
      return `{"version": "\\ud800", "reason": "\\u0000"}`;
    case 8:
      return "123456789012345678901234567890123456789";
    default:
      return text + text;
  }
}

/** A pack upload body: frames that are right, misnamed, mis-sized, cut short, or not frames at all. */
function chunkFrames(g: Gen): Buffer {
  const frames: Buffer[] = [];
  for (let i = g.int(4); i >= 0; i--) {
    const data = g.bytes(1 + g.int(4096));
    const header = Buffer.alloc(36);
    const kind = g.int(8);
    Buffer.from(kind === 1 ? g.hex(64) : chunkHash(data), "hex").copy(header, 0);
    const length = kind === 2 ? 0 : kind === 3 ? MAX_CHUNK_SIZE + 1 : kind === 4 ? 0xffffffff : data.length;
    header.writeUInt32BE(length, 32);
    if (kind === 5) frames.push(header.subarray(0, g.int(36)));
    else if (kind === 6) frames.push(header, data.subarray(0, g.int(data.length)));
    else if (kind === 7) frames.push(g.bytes(g.int(200)));
    else frames.push(header, data);
  }
  return Buffer.concat(frames);
}

// ---- requests ------------------------------------------------------------------------------------------------

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Sent with chunked transfer encoding, in a few writes, instead of with a content-length. */
  chunked?: boolean;
  /** The server may close the connection instead of answering (an oversize body is cut off). */
  mayCut?: boolean;
}

interface Tokens {
  admin: string;
  reader: string;
}

function authorization(g: Gen, tokens: Tokens): string | undefined {
  if (g.chance(0.8)) return `Bearer ${tokens.admin}`;
  return g.pick([
    undefined,
    "",
    "Bearer",
    "Bearer ",
    `Bearer cairn_${g.bytes(32).toString("base64url")}`,
    `Bearer ${tokens.admin}x`,
    `Bearer ${tokens.admin.slice(0, -1)}`,
    `bearer  ${tokens.reader}`,
    `Bearer ${tokens.reader}`,
    `Basic ${Buffer.from("admin:admin").toString("base64")}`,
    `Bearer ${tokens.admin} extra`,
    `Bearer ${g.text(40).replace(/[^\x21-\x7e]/g, "")}`,
    `Bearer ${"A".repeat(8000)}`,
    `Bearer cairn_${g.hex(40)}`,
  ]);
}

function fillPath(g: Gen, url: string, pools: Pools): string {
  return url
    .replace(/:([A-Za-z0-9_]+)/g, (_m, param: string) => {
      let value: string;
      if (param === "n") return String(g.pick([1, 2, 0, -1, 1e12, "x", 1.5]));
      if (param === "id") value = g.pick([...pools.sessions, g.uuid(), g.text(10)]);
      else if (param === "sha256") value = g.pick([...pools.sha256, g.hex(64), g.hex(10)]);
      else value = textFor(g, param, {}, pools);
      // Mostly encoded as a client would; sometimes raw or double-encoded.
      const form = g.int(10);
      if (form === 0) return value.replace(/[^\x21-\x7e]/g, (c) => encode(c));
      if (form === 1) return encode(encode(value));
      return encode(value);
    })
    .replace(/\*$/, () => g.pick(FILE_PATHS));
}

function queryFor(g: Gen, schema: JsonSchema | undefined, pools: Pools): string {
  const params: string[] = [];
  if (schema?.properties) {
    for (const [key, field] of Object.entries(schema.properties)) {
      if (!(schema.required ?? []).includes(key) && g.chance(0.5)) continue;
      const value =
        field.type === "integer" || field.anyOf === undefined
          ? g.chance(0.7)
            ? asText(fromSchema(g, field, key, pools))
            : g.pick(["0", "-1", "1001", "1e3", "abc", "1.5", "", "99999999999999999999", "0x10"])
          : asText(fromSchema(g, field, key, pools));
      params.push(`${key}=${encode(value)}`);
      if (g.chance(0.05)) params.push(`${key}=${encode(value)}`);
    }
  }
  if (g.chance(0.1)) params.push(g.pick(["__proto__[x]=1", "a[b]=c", "%zz=1", "=", "&&&", "x=%00"]));
  return params.length > 0 ? `?${params.join("&")}` : "";
}

function bodyFor(g: Gen, route: RegisteredRoute, pools: Pools): Partial<FuzzRequest> {
  if (route.url.endsWith("/packs/:n")) {
    return {
      body: chunkFrames(g),
      headers: { "content-type": g.chance(0.9) ? "application/vnd.cairn.chunks" : g.pick(CONTENT_TYPES) },
      chunked: g.chance(0.3),
    };
  }
  const schema = route.schema.body as JsonSchema | undefined;
  if (!schema && g.chance(0.7)) return {};
  const value = schema ? fromSchema(g, schema, "", pools) : anyJson(g, 3);
  const bent = g.chance(0.5) ? mutate(g, value) : value;
  let text = JSON.stringify(bent) ?? "null";
  if (g.chance(0.15)) text = badJson(g, text);
  let mayCut = false;
  if (g.chance(0.005)) {
    // Over the 1 MiB limit of JSON routes (the commit route allows 32 MiB; this stays under that).
    text = JSON.stringify({ notes: "z".repeat(1024 * 1024 + g.int(1000)) });
    mayCut = true;
  }
  const type = g.chance(0.85) ? "application/json" : g.pick(CONTENT_TYPES);
  return { body: Buffer.from(text), headers: { "content-type": type }, chunked: g.chance(0.1), mayCut };
}

function unknownRoute(g: Gen): string {
  return g.pick([
    "/",
    "/api",
    "/api/v1",
    "/api/v2/artifacts",
    `${API}/artifacts/classifier/versions/0.1.0/extra`,
    `${API}/../../etc/passwd`,
    `${API}/%2e%2e/%2e%2e/etc/passwd`,
    `/${g.text(30).replace(/[^\x21-\x7e]/g, "")}`,
    `${API}/artifacts?limit=1#frag`,
    "/metrics/x",
    "/healthz/",
    `${API}/resolve/`,
    `${API}//artifacts`,
    "//etc/passwd",
    "/web/../../../etc/passwd",
  ]);
}

function makeRequest(g: Gen, routes: RegisteredRoute[], pools: Pools, tokens: Tokens): FuzzRequest {
  const headers: Record<string, string> = {};
  const auth = authorization(g, tokens);
  if (auth !== undefined) headers["authorization"] = auth;
  if (g.chance(0.05)) headers["x-request-id"] = g.pick(["ok-1", "a b", "x".repeat(300)]);
  if (g.chance(0.03)) headers["if-none-match"] = g.pick(['"abc"', "*", ""]);
  // Over Node's 16 KiB header limit: answered 431 and the connection closed, perhaps before all of it is sent.
  const huge = g.chance(0.01);
  if (huge) headers["x-huge"] = "h".repeat(20_000 + g.int(60_000));

  if (g.chance(0.08)) {
    return { method: g.pick(METHODS), path: unknownRoute(g), headers, ...(huge ? { mayCut: true } : {}) };
  }
  const route = g.pick(routes);
  const method = g.chance(0.9) ? route.method : g.pick(METHODS);
  const path = fillPath(g, route.url, pools) + queryFor(g, route.schema.querystring as JsonSchema, pools);
  const request: FuzzRequest = { method, path, headers, ...(huge ? { mayCut: true } : {}) };
  if (method !== "GET" && method !== "HEAD" && method !== "OPTIONS" && method !== "TRACE") {
    const body = bodyFor(g, route, pools);
    Object.assign(request.headers, body.headers ?? {});
    if (body.body !== undefined) request.body = body.body;
    if (body.chunked) request.chunked = true;
    if (body.mayCut) request.mayCut = true;
  }
  return request;
}

/** Bytes no well-behaved HTTP client sends. Each ends the connection, so its answer is all that comes back. */
function rawRequest(g: Gen, pools: Pools, tokens: Tokens): string | Buffer {
  const auth = `Authorization: Bearer ${tokens.admin}\r\n`;
  const session = g.pick(pools.sessions);
  const pack = `PUT ${API}/uploads/${session}/packs/1 HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/vnd.cairn.chunks\r\n`;
  const frames = chunkFrames(g);
  return g.pick<string | Buffer>([
    `GET ${API}/resolve/classifier\u0000@production HTTP/1.1\r\nHost: x\r\n\r\n`,
    `GET ${API}/artifacts/classifier/versions/0.1.0/files/../../../etc/passwd HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`,
    `GET ${API}/artifacts/classifier/versions/0.1.0/files/a\u0000b HTTP/1.1\r\nHost: x\r\n\r\n`,
    `GET ${API}/artifacts/classifier/versions/0.1.0/files/a b HTTP/1.1\r\nHost: x\r\n\r\n`,
    "FOO / HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    "GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n",
    `GET http://evil.example${API}/artifacts HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`,
    "GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    `${pack}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
    `${pack}Transfer-Encoding: chunked\r\n\r\n10\r\nshort\r\n0\r\n\r\n`,
    `${pack}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n`,
    Buffer.concat([
      Buffer.from(`${pack}Transfer-Encoding: chunked\r\n\r\n${(frames.length + 500).toString(16)}\r\n`),
      frames,
    ]),
    Buffer.concat([Buffer.from(`${pack}Content-Length: ${frames.length + 1000}\r\n\r\n`), frames]),
    `${pack}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    `${pack}Content-Length: -1\r\n\r\n`,
    `${pack}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`,
    `PUT ${API}/artifacts/classifier/aliases/canary HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"version":`,
    `PUT ${API}/artifacts/classifier/aliases/canary HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{"version":"0.1.0"}`,
  ]);
}

// ---- sending and judging -------------------------------------------------------------------------------------

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The last request each kept-alive connection carried: a failure on a reused connection may be its doing. */
const lastOnSocket = new WeakMap<object, FuzzRequest>();

function send(agent: Agent, port: number, req: FuzzRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...req.headers };
    // Said outright: Node's client frames a DELETE's or an OPTIONS' body not at all unless told.
    if (req.body !== undefined) {
      if (req.chunked) headers["transfer-encoding"] = "chunked";
      else headers["content-length"] = req.body.length;
    }
    const out = httpRequest(
      { host: "127.0.0.1", port, method: req.method, path: req.path, headers, agent },
      (res) => {
        const pieces: Buffer[] = [];
        res.on("data", (piece: Buffer) => pieces.push(piece));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(pieces) }),
        );
        res.on("error", reject);
      },
    );
    out.on("socket", (socket) => {
      const before = lastOnSocket.get(socket);
      lastOnSocket.set(socket, req);
      out.on("error", (error) =>
        reject(
          before
            ? new Error(`${String(error)}; the connection's previous request: ${describeRequest(before)}`)
            : error,
        ),
      );
    });
    if (req.body !== undefined && req.chunked) {
      // Several writes without a content-length: Node sends them as chunks of a chunked body.
      const third = Math.ceil(req.body.length / 3);
      for (let at = 0; at < req.body.length; at += third) out.write(req.body.subarray(at, at + third));
      out.end();
    } else {
      out.end(req.body);
    }
  });
}

/** Writes raw bytes, half-closes, and reads until the server closes: the answer, or none at all. */
function sendRaw(port: number, bytes: string | Buffer): Promise<Answer | null> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const pieces: Buffer[] = [];
    socket.on("data", (piece: Buffer) => pieces.push(piece));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      // The server may cut a malformed request off before reading all of it.
      if (error.code !== "ECONNRESET" && error.code !== "EPIPE") reject(error);
    });
    socket.on("close", () => {
      const all = Buffer.concat(pieces);
      if (all.length === 0) return resolve(null);
      const end = all.indexOf("\r\n\r\n");
      const head = all.subarray(0, end < 0 ? all.length : end).toString("latin1");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      const headers: IncomingHttpHeaders = {};
      for (const line of head.split("\r\n").slice(1)) {
        const colon = line.indexOf(":");
        if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers["content-length"] ?? Number.NaN);
      const rest = end < 0 ? Buffer.alloc(0) : all.subarray(end + 4);
      // Only the first answer counts (a pipelined second one is a different request).
      resolve({ status, headers, body: Number.isFinite(length) ? rest.subarray(0, length) : rest });
    });
    socket.end(bytes);
  });
}

/** What is wrong with an answer, or null. */
function judge(method: string, answer: Answer): string | null {
  if (answer.status >= 500 || answer.status < 100) return `status ${answer.status}`;
  if (answer.status < 400 || method === "HEAD") return null;
  if (!/^application\/json/.test(String(answer.headers["content-type"] ?? ""))) {
    return `error answer ${answer.status} with content-type ${answer.headers["content-type"]}`;
  }
  let body: { error?: { code?: unknown; message?: unknown } };
  try {
    body = JSON.parse(answer.body.toString("utf8"));
  } catch {
    return `error answer ${answer.status} is not JSON: ${answer.body.toString("utf8").slice(0, 200)}`;
  }
  const { code, message } = body.error ?? {};
  if (typeof code !== "string" || !KNOWN_CODES.has(code) || typeof message !== "string") {
    return `error answer ${answer.status} is not in the error shape: ${JSON.stringify(body).slice(0, 200)}`;
  }
  return null;
}

const describeRequest = (r: FuzzRequest): string =>
  `${r.method} ${r.path.slice(0, 300)} ${JSON.stringify(r.headers).slice(0, 200)} ` +
  `${r.body === undefined ? "" : `body(${r.body.length}${r.chunked ? ", chunked" : ""}): ${r.body.subarray(0, 200).toString("utf8")}`}`;

// ---- the test ------------------------------------------------------------------------------------------------

let fx: Fixture;
let app: CairnApp;
let routes: RegisteredRoute[];
let port: number;
let tokens: Tokens;
const pools: Pools = { sha256: [], chunks: [], sessions: [] };
const logged: string[] = [];

const issue = (name: string, role: Role): Promise<string> => issueToken(fx, name, role);

beforeAll(async () => {
  fx = await buildFixture();
  // Names no generated request can guess, so the fuzz never revokes the tokens it works with.
  tokens = {
    admin: await issue(`fuzz-admin-${SEED}`, "admin"),
    reader: await issue(`fuzz-reader-${SEED}`, "reader"),
  };
  // Error lines (a 5xx's cause) are kept, to be shown if the test fails.
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logged.push(String(chunk));
      done();
    },
  });
  ({ app, routes } = await appWithRoutes({ store: fx.store, logger: { level: "error", stream } }));
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  port = typeof address === "object" && address ? address.port : 0;

  const index = fx.store.content.index!;
  for (const key of fx.files.keys()) {
    const [ref, path] = key.split(":") as [string, string];
    const version = await fx.store.meta.getVersion(ref.split("@")[0]!, ref.split("@")[1]!);
    const file = version?.files.find((f) => f.path === path);
    if (!file) continue;
    pools.sha256.push(file.sha256);
    const content = await index.getContent(file.sha256);
    for (const chunk of content?.chunks.slice(0, 3) ?? []) pools.chunks.push(chunk.hash);
  }
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`http://127.0.0.1:${port}${API}/uploads`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.admin}` },
    });
    pools.sessions.push(((await res.json()) as { id: string }).id);
  }
});

afterAll(async () => {
  await app?.close();
  await fx?.close();
});

describe(`10,000 random and malformed requests (seed ${SEED})`, () => {
  it("never answer 5xx, always answer errors in the error shape, and leave the server working", async () => {
    console.log(`fuzz seed ${SEED}: replay with CAIRN_FUZZ_SEED=${SEED}`);
    const g = new Gen(prng(SEED));
    const requests = Array.from({ length: REQUESTS }, () =>
      g.chance(0.03)
        ? { raw: rawRequest(g, pools, tokens) }
        : { http: makeRequest(g, routes, pools, tokens) },
    );
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const i = next++;
        const item = requests[i]!;
        if ("raw" in item) {
          const answer = await sendRaw(port, item.raw);
          if (answer === null) continue;
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          const wrong = judge("RAW", answer);
          if (wrong)
            failures.push(`#${i} ${wrong}\n  raw: ${JSON.stringify(String(item.raw).slice(0, 300))}`);
          continue;
        }
        const req = item.http;
        try {
          const answer = await send(agent, port, req);
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          const wrong = judge(req.method, answer);
          if (wrong) failures.push(`#${i} ${wrong}\n  ${describeRequest(req)}`);
        } catch (error) {
          if (!req.mayCut) failures.push(`#${i} no answer (${String(error)})\n  ${describeRequest(req)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    agent.destroy();
    console.log(
      `fuzz seed ${SEED}: ${requests.length} requests; answers by status: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`,
    );
    if (failures.length > 0) console.log(`server error log:\n${logged.join("").slice(0, 5000)}`);
    expect(failures.slice(0, 20), `seed ${SEED}: ${failures.length} bad answers`).toEqual([]);
    // The mix reached the routes' own checks, not only the router and the auth gate.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(REQUESTS / 20);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(REQUESTS / 20);
  }, 120_000); // 10-20 s alone; more when the whole suite shares the machine

  it("answers what Node's HTTP parser refuses in the error shape, then closes the connection", async () => {
    const session = pools.sessions[0]!;
    const pack = `PUT ${API}/uploads/${session}/packs/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tokens.admin}\r\n`;
    const cases: Array<[string, number, string]> = [
      [`${pack}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`, 400, "INVALID"],
      [`${pack}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400, "INVALID"],
      [`GET ${API}/resolve/a\u0000b HTTP/1.1\r\nHost: x\r\n\r\n`, 400, "INVALID"],
      [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: ${"h".repeat(100_000)}\r\n\r\n`, 431, "TOO_LARGE"],
    ];
    for (const [raw, status, code] of cases) {
      const answer = await sendRaw(port, raw);
      expect(answer?.status, raw.slice(0, 80)).toBe(status);
      expect(answer?.headers["connection"]).toBe("close");
      expect(JSON.parse(answer!.body.toString("utf8")).error.code).toBe(code);
    }
    // To HEAD, the same answer without a body (a client would take one for the start of the next answer).
    const head = await sendRaw(
      port,
      `HEAD /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: ${"h".repeat(100_000)}\r\n\r\n`,
    );
    expect(head?.status).toBe(431);
    expect(head?.body.length).toBe(0);
  });

  it("still serves every seeded file byte for byte, resolves refs, and takes a write", async () => {
    expect(app.server.listening).toBe(true);
    const base = `http://127.0.0.1:${port}`;
    const auth = { authorization: `Bearer ${tokens.admin}` };
    for (const [key, bytes] of fx.files) {
      const [ref, path] = key.split(":") as [string, string];
      const [name, version] = ref.split("@") as [string, string];
      const res = await fetch(`${base}${API}/artifacts/${name}/versions/${version}/files/${path}`, {
        headers: auth,
      });
      expect(res.status, key).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes), key).toBe(true);
    }
    const resolved = await fetch(`${base}${API}/resolve/${encodeURIComponent("classifier@0.2.0")}`, {
      headers: auth,
    });
    expect(((await resolved.json()) as { files: unknown[] }).files).toHaveLength(3);

    // A write: an alias moved, then read back through a ref.
    const moved = await fetch(`${base}${API}/artifacts/classifier/aliases/after-fuzz`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ version: "0.1.0", reason: "the server survived" }),
    });
    expect(moved.status).toBe(200);
    const after = await fetch(`${base}${API}/resolve/${encodeURIComponent("classifier@after-fuzz")}`, {
      headers: auth,
    });
    expect(((await after.json()) as { version: string }).version).toBe("0.1.0");

    // And a version pushed from scratch by the SDK's protocol still publishes (new bytes, new chunks).
    const data = bytesOf(20_000, SEED);
    const hash = chunkHash(data);
    const session = (await (
      await fetch(`${base}${API}/uploads`, { method: "POST", headers: auth })
    ).json()) as { id: string };
    const header = Buffer.alloc(36);
    Buffer.from(hash, "hex").copy(header);
    header.writeUInt32BE(data.length, 32);
    const packed = await fetch(`${base}${API}/uploads/${session.id}/packs/1`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/vnd.cairn.chunks" },
      body: Buffer.concat([header, data]),
    });
    expect(packed.status).toBe(200);
    const sha256 = createHash("sha256").update(data).digest("hex");
    const content = await fetch(`${base}${API}/uploads/${session.id}/contents`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ sha256, size: data.length, chunks: [{ hash, length: data.length }] }),
    });
    expect(content.status).toBe(200);
    const published = await fetch(`${base}${API}/artifacts/after-fuzz/versions`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({
        upload: session.id,
        version: "1.0.0",
        files: [{ path: "w.bin", size: data.length, sha256 }],
      }),
    });
    expect(published.status).toBe(200);
    const pulled = await fetch(`${base}${API}/artifacts/after-fuzz/versions/1.0.0/files/w.bin`, {
      headers: auth,
    });
    expect(Buffer.from(await pulled.arrayBuffer()).equals(data)).toBe(true);

    // Nothing half-written: every pack and every file the store holds reads back whole.
    const report = await verifyStore(fx.store.content as Parameters<typeof verifyStore>[0]);
    expect(report.damagedChunks).toBe(0);
    expect(report.missingPacks).toEqual([]);
    expect(report.damagedFiles).toEqual([]);
    expect(report.incompleteFiles).toEqual([]);
  });
});
