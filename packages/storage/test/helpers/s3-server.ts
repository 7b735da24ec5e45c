/**
 * @module A real S3-compatible server (s3rver) per test file, on port 0 in a temporary folder, with one bucket.
 * When it cannot start the suite is skipped with the reason printed — except in CI (CI=true), where a missing
 * backend is a failure, never a silent pass.
 */
import { createHash, createHmac, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import S3rver from "s3rver";
import { afterAll, describe, it } from "vitest";

/**
 * s3rver's filesystem store writes objects in place and answers a PUT before its bytes reach the file, so a
 * read right after a write can see a truncated object and concurrent PUTs to one key can interleave. S3 (and
 * MinIO, Ceph, R2) make each PUT visible whole and at once, with read-after-write consistency; the drivers rely
 * on that. These replacements give s3rver the same guarantee (write beside the target, then rename), so the
 * tests exercise our driver rather than s3rver's races. Likewise s3rver reads `Range: bytes=0-0` as the
 * whole object (it tests the end byte for truthiness); S3 returns the one byte.
 */
interface FilesystemStoreInternals {
  getResourcePath(bucket: string, key: string, kind: string): string;
  getMetadata(bucket: string, key: string): Promise<Record<string, string>>;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5?: string): Promise<void>;
}
const require = createRequire(import.meta.url);
const FilesystemStore = require("s3rver/lib/stores/filesystem.js") as {
  prototype: Record<string, unknown>;
};
const S3ObjectModel = require("s3rver/lib/models/object.js") as {
  new (
    bucket: string,
    key: string,
    content: Readable | null,
    metadata: Record<string, string>,
  ): {
    range?: { start: number; end: number };
  };
  ALLOWED_METADATA: string[];
};
const besideTarget = (path: string) => `${path}.${randomBytes(6).toString("hex")}.writing`;

async function writeWhole(path: string, data: string): Promise<void> {
  const temp = besideTarget(path);
  await writeFile(temp, data);
  await rename(temp, path);
}

FilesystemStore.prototype.putMetadata = async function putMetadata(
  this: FilesystemStoreInternals,
  bucket: string,
  key: string,
  metadata: Record<string, string>,
  md5?: string,
): Promise<void> {
  const json: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata)) {
    if (S3ObjectModel.ALLOWED_METADATA.includes(name) || name.startsWith("x-amz-meta-")) json[name] = value;
  }
  if (md5) await writeWhole(this.getResourcePath(bucket, key, "object.md5"), md5);
  await writeWhole(this.getResourcePath(bucket, key, "metadata.json"), JSON.stringify(json, null, 2));
};

FilesystemStore.prototype.putObject = async function putObject(
  this: FilesystemStoreInternals,
  object: { bucket: string; key: string; content: Buffer | Readable; metadata: Record<string, string> },
): Promise<{ size: number; md5: string }> {
  const target = this.getResourcePath(object.bucket, object.key, "object");
  await mkdir(dirname(target), { recursive: true });
  const temp = besideTarget(target);
  const md5 = createHash("md5");
  let size = 0;
  try {
    await pipeline(
      Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content,
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          md5.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      }),
      createWriteStream(temp),
    );
    const digest = md5.digest("hex");
    await this.putMetadata(object.bucket, object.key, object.metadata, digest);
    await rename(temp, target);
    return { size, md5: digest };
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
};

FilesystemStore.prototype.getObject = async function getObject(
  this: FilesystemStoreInternals,
  bucket: string,
  key: string,
  options?: { start?: number; end?: number },
) {
  let metadata: Record<string, string>;
  try {
    metadata = await this.getMetadata(bucket, key);
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return null;
    throw error;
  }
  const ranged = options?.start !== undefined || options?.end !== undefined;
  const lastByte = Math.max(0, Number(metadata["content-length"]) - 1);
  const range = {
    start: options?.start ?? 0,
    end: Math.min(options?.end ?? Number.POSITIVE_INFINITY, lastByte),
  };
  let content: Readable | null = null;
  if (range.start <= range.end && !(Number(metadata["content-length"]) === 0 && ranged)) {
    content = await new Promise<Readable>((resolve, reject) => {
      const stream = createReadStream(this.getResourcePath(bucket, key, "object"), range)
        .on("error", reject)
        .on("open", () => resolve(stream));
    });
  }
  const object = new S3ObjectModel(bucket, key, content, metadata);
  if (ranged) object.range = range;
  return object;
};

/**
 * s3rver knows one account for every instance in the process and never checks a SigV4 signature, so it cannot
 * stand for a second S3 service with its own keys. This check, run before s3rver's own, gives an instance that:
 * a request must be signed (AWS4-HMAC-SHA256, in the Authorization header as the SDK sends it) with this key
 * pair, else 403 InvalidAccessKeyId / SignatureDoesNotMatch as S3 answers.
 */
type KoaContext = {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  req: { url?: string };
  status: number;
  type: string;
  body: unknown;
};
const Account = require("s3rver/lib/models/account.js") as {
  DUMMY_ACCOUNT: {
    createKeyPair(accessKeyId: string, secretAccessKey: string): void;
    revokeAccessKey(accessKeyId: string): void;
  };
};

const rfc3986 = (text: string) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const hmac = (key: string | Buffer, text: string) => createHmac("sha256", key).update(text).digest();

/** Why the request is refused under `keys`, or null when it is signed with them. */
function refusal(ctx: KoaContext, keys: { accessKeyId: string; secretAccessKey: string }): string | null {
  const header = ctx.headers.authorization;
  const auth =
    typeof header === "string"
      ? /^AWS4-HMAC-SHA256 Credential=([^/]+)\/([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/.exec(
          header,
        )
      : null;
  if (!auth) return "InvalidAccessKeyId";
  const [, accessKeyId, scope, signedHeaders, signature] = auth as unknown as string[];
  if (accessKeyId !== keys.accessKeyId) return "InvalidAccessKeyId";
  const [date, region, service] = scope!.split("/");
  const [path = "/", query = ""] = (ctx.req.url ?? "/").split("?", 2);
  const canonicalQuery = query
    .split("&")
    .filter((pair) => pair !== "")
    .map((pair) => {
      const [name = "", value = ""] = pair
        .split("=", 2)
        .map((part) => decodeURIComponent(part.replace(/\+/g, " ")));
      return [rfc3986(name), rfc3986(value)] as const;
    })
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
  const names = signedHeaders!.split(";");
  const canonicalHeaders = names
    .map(
      (name) =>
        `${name}:${String(ctx.headers[name] ?? "")
          .trim()
          .replace(/\s+/g, " ")}\n`,
    )
    .join("");
  const payloadHash = String(ctx.headers["x-amz-content-sha256"] ?? "UNSIGNED-PAYLOAD");
  const request = [ctx.method, path, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join("\n");
  const toSign = [
    "AWS4-HMAC-SHA256",
    String(ctx.headers["x-amz-date"]),
    scope,
    createHash("sha256").update(request).digest("hex"),
  ].join("\n");
  let key = hmac(`AWS4${keys.secretAccessKey}`, date!);
  for (const part of [region!, service!, "aws4_request"]) key = hmac(key, part);
  return hmac(key, toSign).toString("hex") === signature ? null : "SignatureDoesNotMatch";
}

export interface LocalS3 {
  /** http://127.0.0.1:port */
  endpoint: string;
  bucket: string;
  /** The key pair it accepts: s3rver's fixed one, or the instance's own when started with one. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The environment a cairn process needs to use `s3://bucket/prefix` on this server. */
  env(prefix: string): Record<string, string>;
  close(): Promise<void>;
}

/**
 * Starts s3rver with one bucket. With `keys`, that instance accepts only requests signed with them (another
 * S3 service with its own account, as in a migration between two); otherwise s3rver's fixed S3RVER pair.
 */
export async function startS3(
  bucket = "cairn-test",
  keys?: { accessKeyId: string; secretAccessKey: string },
): Promise<LocalS3> {
  const directory = await mkdtemp(join(tmpdir(), "cairn-s3rver-"));
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  if (keys) {
    // s3rver's own check (which runs after this one) looks the key up in its process-wide account.
    Account.DUMMY_ACCOUNT.createKeyPair(keys.accessKeyId, keys.secretAccessKey);
    (server as unknown as { middleware: unknown[] }).middleware.unshift(
      async (ctx: KoaContext, next: () => Promise<void>) => {
        const code = refusal(ctx, keys);
        if (code === null) return next();
        ctx.status = 403;
        ctx.type = "application/xml";
        ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>refused by the test server</Message></Error>`;
      },
    );
  }
  let address: AddressInfo;
  try {
    address = (await server.run()) as AddressInfo;
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  const endpoint = `http://127.0.0.1:${address.port}`;
  const credentials = keys ?? { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
  return {
    endpoint,
    bucket,
    credentials,
    env: (prefix) => ({
      CAIRN_BLOB_URL: `s3://${bucket}/${prefix}`,
      CAIRN_S3_ENDPOINT: endpoint,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_REGION: "us-east-1",
    }),
    close: async () => {
      await server.close();
      if (keys) Account.DUMMY_ACCOUNT.revokeAccessKey(keys.accessKeyId);
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * Declares `body`'s tests over a local S3 server started for this file, or, when it cannot start, one skipped
 * suite saying why (one failing test when CI=true). The server stops after the file's tests.
 */
export async function describeS3(label: string, body: (s3: LocalS3) => void | Promise<void>): Promise<void> {
  let s3: LocalS3;
  try {
    s3 = await startS3();
  } catch (error) {
    const reason = `the local S3 server (s3rver) did not start: ${error instanceof Error ? error.message : String(error)}`;
    if (process.env.CI === "true") {
      describe(`S3 ${label}`, () => {
        it("needs a local S3 server in CI", () => {
          throw new Error(reason);
        });
      });
    } else {
      console.warn(`skipping the S3 ${label} tests: ${reason}`);
      describe.skip(`S3 ${label} (${reason})`, () => {
        it("needs a local S3 server", () => {});
      });
    }
    return;
  }
  afterAll(() => s3.close());
  await body(s3);
}
