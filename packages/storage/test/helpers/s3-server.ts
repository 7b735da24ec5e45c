/**
 * @module A real S3-compatible server (s3rver) per test file, on port 0 in a temporary folder, with one bucket.
 * When it cannot start the suite is skipped with the reason printed — except in CI (CI=true), where a missing
 * backend is a failure, never a silent pass.
 */
import { createHash, randomBytes } from "node:crypto";
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

export interface LocalS3 {
  /** http://127.0.0.1:port */
  endpoint: string;
  bucket: string;
  /** s3rver's fixed key pair. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The environment a cairn process needs to use `s3://bucket/prefix` on this server. */
  env(prefix: string): Record<string, string>;
  close(): Promise<void>;
}

export async function startS3(bucket = "cairn-test"): Promise<LocalS3> {
  const directory = await mkdtemp(join(tmpdir(), "cairn-s3rver-"));
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  let address: AddressInfo;
  try {
    address = (await server.run()) as AddressInfo;
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  const endpoint = `http://127.0.0.1:${address.port}`;
  const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
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
