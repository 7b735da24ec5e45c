/**
 * @module A real embedded store in a temp folder with a few versions pushed through core's Registry (content
 * written, flushed, then published, as `cairn push` does), and the app over it, driven in-process.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FileEntry, Registry, type Role } from "@cairn/core";
import { type BuildAppOptions, buildApp, type CairnApp } from "@cairn/server";
import { type EmbeddedStore, mintToken, openEmbeddedStore } from "@cairn/storage";
import type { TSchema } from "typebox";
import { Compile } from "typebox/compile";
import { expect } from "vitest";

export const API = "/api/v1";

/** Deterministic pseudo-random bytes (xorshift), so chunking and dedup behave the same on every run. */
export function bytesOf(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export const sha256 = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

async function* pieces(bytes: Buffer): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += 64 * 1024) yield bytes.subarray(i, i + 64 * 1024);
  if (bytes.length === 0) yield new Uint8Array(0);
}

type Publish = (
  name: string,
  version: string,
  contents: Record<string, Buffer>,
  extra?: Omit<Parameters<Registry["publishVersion"]>[0], "name" | "version" | "files">,
) => Promise<unknown>;

export interface Fixture {
  dir: string;
  home: string;
  store: EmbeddedStore;
  app: CairnApp;
  /** File bytes by `name@version:path`. */
  files: Map<string, Buffer>;
  /** Pushes another version as `cairn push` does: content written, flushed, then the version published. */
  publish: Publish;
  close(): Promise<void>;
}

/**
 * iris (dataset) 1.0.0; classifier 0.1.0 → 0.2.0 → 1.0.0-rc.1, with params, metrics (NaN and ±Infinity
 * included), lineage, tags and notes; production moved 0.1.0 → 0.2.0, staging on 0.2.0.
 */
export async function buildFixture(options: { app?: Omit<BuildAppOptions, "store"> } = {}): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-server-"));
  const home = join(dir, ".cairn");
  const store = await openEmbeddedStore(home);
  const registry = new Registry({ meta: store.meta, content: store.content, actor: "ada" });
  const files = new Map<string, Buffer>();

  const publish: Publish = async (name, version, contents, extra = {}) => {
    const entries: FileEntry[] = [];
    for (const [path, bytes] of Object.entries(contents)) {
      const stored = await store.content.write(pieces(bytes));
      entries.push({ path, mode: path.endsWith(".sh") ? 0o755 : 0o644, ...stored });
      files.set(`${name}@${version}:${path}`, bytes);
    }
    await store.content.flush();
    return registry.publishVersion({ name, version, files: entries, ...extra });
  };

  const weights = bytesOf(300 * 1024, 7);
  const weights2 = Buffer.concat([weights.subarray(0, 200 * 1024), bytesOf(100 * 1024, 8)]);
  const config = Buffer.from('{"layers": 4}\n');
  await publish("iris", "1.0.0", { "iris.csv": Buffer.from("sepal,petal\n5.1,1.4\n") }, { type: "dataset" });
  await publish(
    "classifier",
    "0.1.0",
    { "model.bin": weights, "config.json": config },
    {
      params: { lr: 0.01, optimizer: { name: "adam" } },
      metrics: { accuracy: 0.9, loss: Number.NaN },
      data: ["iris@1.0.0"],
      tags: { team: "nlp" },
      aliases: ["production"],
      notes: "first",
    },
  );
  await publish(
    "classifier",
    "0.2.0",
    { "model.bin": weights2, "config.json": config, "bin/run.sh": Buffer.from("#!/bin/sh\n") },
    {
      params: { lr: 0.02, optimizer: { name: "adam" } },
      metrics: { accuracy: 0.93, loss: Number.POSITIVE_INFINITY, drift: Number.NEGATIVE_INFINITY },
      data: ["iris@1.0.0"],
      aliases: ["staging"],
      notes: "better",
    },
  );
  await publish("classifier", "1.0.0-rc.1", { "model.bin": weights2 }, { metrics: { accuracy: 0.95 } });
  await registry.setAlias("classifier", "production", "0.2.0", "passed eval");

  const app = buildApp({ store, ...options.app });
  await app.ready();
  return {
    dir,
    home,
    store,
    app,
    files,
    publish,
    async close() {
      await app.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Creates a token straight in the fixture's store, as `cairn token create` does, and returns its secret. */
export async function issueToken(fixture: Fixture, name: string, role: Role): Promise<string> {
  const { token, secretHash } = mintToken();
  await new Registry({
    meta: fixture.store.meta,
    content: fixture.store.content,
    actor: "setup",
  }).createToken(name, role, secretHash);
  return token;
}

/** Fails with TypeBox's reasons when `value` does not have the documented shape. */
export function expectShape(schema: TSchema, value: unknown): void {
  const check = Compile(schema);
  const errors = check.Check(value) ? [] : check.Errors(value).map((e) => `${e.instancePath} ${e.message}`);
  expect(errors).toEqual([]);
}

export function expectError(
  response: { statusCode: number; json(): unknown },
  status: number,
  code: string,
  message?: RegExp,
): void {
  expect(response.statusCode).toBe(status);
  const body = response.json() as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  if (message) expect(body.error.message).toMatch(message);
}
