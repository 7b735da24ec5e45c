/**
 * The S3 blob driver against a real S3-compatible server (s3rver, started here): the blob contract, the content
 * contract (the chunk store over SQLite metadata and S3 packs, as `openStore` opens it for CAIRN_BLOB_URL), and
 * what an operator sees when the bucket, the credentials, the endpoint or the URL are wrong.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { type ChunkStore, openStore, PACK_PREFIX, parseS3Location, type Store } from "@cairn/storage";
import { openS3BlobStore, S3BlobStore } from "@cairn/storage/s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collect, runBlobContract } from "./contract/blob-contract.js";
import { locateByte, runContentContract } from "./contract/content-contract.js";
import { describeS3, type LocalS3 } from "./helpers/s3-server.js";

const MiB = 1024 * 1024;
/** Each test works under its own prefix of the one bucket, so no test sees another's objects. */
const freshPrefix = () => `t-${randomBytes(6).toString("hex")}`;

const storeOn = (s3: LocalS3, prefix: string) =>
  new S3BlobStore({
    ...parseS3Location(`s3://${s3.bucket}/${prefix}`, { CAIRN_S3_ENDPOINT: s3.endpoint }),
    credentials: s3.credentials,
  });

await describeS3("blob driver", (s3) => {
  // openStore reads the endpoint from the environment and the SDK reads the credentials from it, as in a
  // deployment; only this test file's process sees these.
  const { CAIRN_BLOB_URL: _unused, ...env } = s3.env("");
  Object.assign(process.env, env);

  let contractStore: S3BlobStore | undefined;
  runBlobContract(
    "s3",
    async () => {
      contractStore = storeOn(s3, freshPrefix());
      return contractStore;
    },
    async () => {
      contractStore?.close();
    },
  );

  runContentContract("chunk store (S3 blobs, SQLite chunk index)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cairn-s3-content-"));
    const home = join(dir, ".cairn");
    const blobUrl = `s3://${s3.bucket}/${freshPrefix()}`;
    const opened: Store[] = [];
    const stores: ChunkStore[] = [];
    const chunkStore = async () => {
      const store = await openStore({ home, blobUrl });
      opened.push(store);
      stores.push(store.content);
      return store.content;
    };
    const first = await chunkStore();
    const blobs = opened[0]!.blobs;
    const packs = async () => {
      const found: Array<{ key: string; size: number }> = [];
      for await (const blob of blobs.list(PACK_PREFIX)) found.push(blob);
      return found;
    };
    return {
      content: first,
      reopen: chunkStore,
      storedBytes: async () => (await packs()).reduce((n, p) => n + p.size, 0),
      objectCount: async () => (await packs()).length,
      // Objects cannot be edited in place: rot is simulated by writing the pack back with one byte flipped.
      async damage(content, at) {
        const { pack, offset } = await locateByte(first.index, content, at);
        const bytes = await collect(blobs.get(pack));
        bytes[offset] = bytes[offset]! ^ 0x01;
        await blobs.put(pack, bytes);
      },
      async lose(content, at) {
        await blobs.delete((await locateByte(first.index, content, at)).pack);
      },
      async cleanup() {
        for (const store of stores) await store.close();
        for (const store of opened) await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  });

  describe("S3 blob store", () => {
    let store: S3BlobStore;
    beforeEach(() => {
      store = storeOn(s3, freshPrefix());
    });
    afterEach(() => {
      store.close();
    });

    /** Every object under the store's prefix, straight from S3 (not through the store). */
    const rawKeys = async () => {
      const page = await store.client.send(
        new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: store.prefix }),
      );
      return (page.Contents ?? []).map((o) => o.Key);
    };

    it("keeps each object at the URL's prefix + its key, so any S3 tool can back the bucket up", async () => {
      await store.put("packs/ab/p1", new TextEncoder().encode("content"));
      expect(await rawKeys()).toEqual([`${store.prefix}packs/ab/p1`]);
    });

    it("streams a large body as a multipart upload and reads it back whole and by range", async () => {
      const bytes = randomBytes(20 * MiB + 3);
      await store.put(
        "big",
        (async function* () {
          for (let at = 0; at < bytes.length; at += 300_000) yield bytes.subarray(at, at + 300_000);
        })(),
      );
      expect((await store.head("big"))?.size).toBe(bytes.length);
      expect((await collect(store.get("big"))).equals(bytes)).toBe(true);
      const slice = await collect(store.get("big", { offset: 9 * MiB - 5, length: 2 * MiB }));
      expect(slice.equals(bytes.subarray(9 * MiB - 5, 11 * MiB - 5))).toBe(true);
    });

    it("a multipart upload interrupted by an error leaves no object, and keeps the one it would replace", async () => {
      await store.put("pack", new TextEncoder().encode("the good pack"));
      // The commands the driver sends, to see that the upload really went in parts and was aborted.
      const sent: string[] = [];
      store.client.middlewareStack.add(
        (next, context) => async (args) => {
          sent.push(String(context.commandName));
          return next(args);
        },
        { step: "initialize" },
      );
      async function* failsAfterParts(): AsyncGenerator<Uint8Array> {
        // Enough for several 8 MiB parts to be uploaded before the source fails.
        for (let i = 0; i < 30; i++) yield randomBytes(MiB);
        throw new Error("disk read error");
      }
      await expect(store.put("pack", failsAfterParts())).rejects.toThrow("disk read error");
      await expect(store.put("other", failsAfterParts())).rejects.toThrow("disk read error");
      expect(sent).toContain("CreateMultipartUploadCommand");
      expect(sent).toContain("UploadPartCommand");
      expect(sent).not.toContain("CompleteMultipartUploadCommand");
      expect(sent.filter((c) => c === "AbortMultipartUploadCommand")).toHaveLength(2);
      expect((await collect(store.get("pack"))).toString()).toBe("the good pack");
      expect(await store.head("other")).toBeNull();
      expect(await rawKeys()).toEqual([`${store.prefix}pack`]);
    });

    it("lists past one page of results (S3 returns at most 1000 keys a request)", async () => {
      const keys = Array.from({ length: 1003 }, (_, i) => `many/${String(i).padStart(4, "0")}`);
      for (let i = 0; i < keys.length; i += 50) {
        await Promise.all(keys.slice(i, i + 50).map((k) => store.put(k, new Uint8Array([1]))));
      }
      const listed: string[] = [];
      for await (const blob of store.list("many/")) listed.push(blob.key);
      expect(listed.sort()).toEqual(keys);
    });
  });

  describe("opening a bucket", () => {
    it("openStore with CAIRN_BLOB_URL keeps packs in the bucket and metadata in SQLite in the store folder", async () => {
      const dir = await mkdtemp(join(tmpdir(), "cairn-s3-open-"));
      try {
        const store = await openStore({ home: join(dir, ".cairn"), blobUrl: `s3://${s3.bucket}/open-test` });
        try {
          expect(store.blobs.kind).toBe("s3");
          expect(store.meta.kind).toBe("sqlite");
          const stored = await store.content.write(
            (async function* () {
              yield randomBytes(1000);
            })(),
          );
          await store.content.flush();
          const packs: string[] = [];
          for await (const blob of store.blobs.list(PACK_PREFIX)) packs.push(blob.key);
          expect(packs).toHaveLength(1);
          expect(await store.content.has(stored.sha256)).toBe(true);
        } finally {
          await store.close();
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it("a bucket that does not exist is NOT_FOUND, naming it", async () => {
      await expect(
        openS3BlobStore("s3://no-such-bucket/x", { CAIRN_S3_ENDPOINT: s3.endpoint }),
      ).rejects.toMatchObject({
        code: "NOT_FOUND",
        message: expect.stringContaining("no-such-bucket"),
      });
    });

    it("credentials the store does not know are UNAUTHORIZED, naming the bucket", async () => {
      const opening = openS3BlobStore(
        `s3://${s3.bucket}/x`,
        { CAIRN_S3_ENDPOINT: s3.endpoint },
        { credentials: { accessKeyId: "NOBODY", secretAccessKey: "wrong" } },
      );
      await expect(opening).rejects.toMatchObject({
        code: "UNAUTHORIZED",
        message: expect.stringContaining(s3.bucket),
      });
    });

    it("an endpoint nobody listens on is a clear INTERNAL error naming it, not a hang", async () => {
      const endpoint = "http://127.0.0.1:9";
      await expect(
        openS3BlobStore(`s3://${s3.bucket}/x`, { CAIRN_S3_ENDPOINT: endpoint }),
      ).rejects.toMatchObject({
        code: "INTERNAL",
        message: expect.stringContaining(`cannot reach the S3 bucket ${s3.bucket} at ${endpoint}`),
      });
    });
  });
});

describe("CAIRN_BLOB_URL and the S3 variables", () => {
  it("reads bucket, prefix, endpoint, path style and region", () => {
    expect(parseS3Location("s3://models/team/cairn/", {})).toEqual({
      bucket: "models",
      prefix: "team/cairn/",
      forcePathStyle: false,
      region: "us-east-1",
    });
    expect(
      parseS3Location("s3://models", { AWS_ENDPOINT_URL_S3: "http://minio:9000", AWS_REGION: "eu-west-1" }),
    ).toEqual({
      bucket: "models",
      prefix: "",
      endpoint: "http://minio:9000",
      forcePathStyle: true,
      region: "eu-west-1",
    });
    expect(
      parseS3Location("s3://models/p", {
        CAIRN_S3_ENDPOINT: "https://acct.r2.cloudflarestorage.com",
        AWS_ENDPOINT_URL: "http://ignored:1",
        CAIRN_S3_FORCE_PATH_STYLE: "false",
      }),
    ).toMatchObject({ endpoint: "https://acct.r2.cloudflarestorage.com", forcePathStyle: false });
  });

  it.each([
    ["ftp://host/x", "CAIRN_BLOB_URL must be an s3:// URL"],
    ["s3://", "not a valid S3 bucket name"],
    ["s3://Models/x", "not a valid S3 bucket name"],
    ["s3://models/../x", "invalid prefix segment"],
  ])("refuses %s, naming the variable", (url, message) => {
    expect(() => parseS3Location(url, {})).toThrow(
      expect.objectContaining({ code: "INVALID", message: expect.stringContaining(message) }),
    );
  });

  it("refuses a bad endpoint or path-style flag, naming the variable", () => {
    expect(() => parseS3Location("s3://models", { CAIRN_S3_ENDPOINT: "minio:9000" })).toThrow(
      /CAIRN_S3_ENDPOINT/,
    );
    expect(() => parseS3Location("s3://models", { CAIRN_S3_FORCE_PATH_STYLE: "maybe" })).toThrow(
      /CAIRN_S3_FORCE_PATH_STYLE must be true or false/,
    );
  });
});

describe("the destination of cairn migrate: CAIRN_TO_… over the store's S3 variables", () => {
  const minio = {
    CAIRN_S3_ENDPOINT: "http://minio:9000",
    AWS_REGION: "eu-west-1",
    AWS_ACCESS_KEY_ID: "MINIO",
    AWS_SECRET_ACCESS_KEY: "minio-secret",
  };
  const destination = (env: Record<string, string>) =>
    parseS3Location("s3://models/p", env, "migrate-destination");

  it("uses the store's settings (and the SDK's credentials) for whatever is unset", () => {
    expect(destination(minio)).toEqual(parseS3Location("s3://models/p", minio));
    expect(destination(minio)).not.toHaveProperty("credentials");
    // The store's own settings never read the destination's.
    expect(
      parseS3Location("s3://models/p", { ...minio, CAIRN_TO_S3_ENDPOINT: "https://r2.example.com" }),
    ).toMatchObject({ endpoint: "http://minio:9000" });
  });

  it("takes the destination's endpoint, style, region and keys when set", () => {
    expect(
      destination({
        ...minio,
        CAIRN_S3_FORCE_PATH_STYLE: "false",
        CAIRN_TO_S3_ENDPOINT: "https://acct.r2.cloudflarestorage.com",
        CAIRN_TO_AWS_REGION: "auto",
        CAIRN_TO_AWS_ACCESS_KEY_ID: "R2KEY",
        CAIRN_TO_AWS_SECRET_ACCESS_KEY: "r2-secret",
        CAIRN_TO_AWS_SESSION_TOKEN: "token",
      }),
    ).toEqual({
      bucket: "models",
      prefix: "p/",
      endpoint: "https://acct.r2.cloudflarestorage.com",
      // An endpoint of its own brings an endpoint's default style, not the source service's.
      forcePathStyle: true,
      region: "auto",
      credentials: { accessKeyId: "R2KEY", secretAccessKey: "r2-secret", sessionToken: "token" },
    });
    expect(
      destination({
        ...minio,
        CAIRN_TO_S3_ENDPOINT: "https://s3.eu-west-1.amazonaws.com",
        CAIRN_TO_S3_FORCE_PATH_STYLE: "false",
      }),
    ).toMatchObject({ endpoint: "https://s3.eu-west-1.amazonaws.com", forcePathStyle: false });
  });

  it.each([
    [{ CAIRN_TO_S3_ENDPOINT: "not a url" }, "CAIRN_TO_S3_ENDPOINT must be a URL"],
    [{ CAIRN_TO_S3_ENDPOINT: "ftp://host" }, "CAIRN_TO_S3_ENDPOINT must be an http://"],
    [{ CAIRN_TO_S3_FORCE_PATH_STYLE: "maybe" }, "CAIRN_TO_S3_FORCE_PATH_STYLE must be true or false"],
    [{ CAIRN_TO_AWS_REGION: "eu west" }, "CAIRN_TO_AWS_REGION must be a region name"],
    [
      { CAIRN_TO_AWS_ACCESS_KEY_ID: "K" },
      "CAIRN_TO_AWS_ACCESS_KEY_ID is set but CAIRN_TO_AWS_SECRET_ACCESS_KEY",
    ],
    [
      { CAIRN_TO_AWS_SECRET_ACCESS_KEY: "S" },
      "CAIRN_TO_AWS_SECRET_ACCESS_KEY is set but CAIRN_TO_AWS_ACCESS_KEY_ID",
    ],
    [{ CAIRN_TO_AWS_SESSION_TOKEN: "T" }, "CAIRN_TO_AWS_SESSION_TOKEN is set without"],
  ])("refuses %o, naming the variable", (env, message) => {
    expect(() => destination({ ...minio, ...env })).toThrow(
      expect.objectContaining({ code: "INVALID", message: expect.stringContaining(message) }),
    );
  });
});
