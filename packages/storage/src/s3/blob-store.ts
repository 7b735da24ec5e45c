/**
 * @module The S3 blob store: each object is an S3 object at the store's prefix + its key, in one bucket of AWS
 * S3 or an S3-compatible store (MinIO, Ceph RGW, Cloudflare R2). S3 makes each PUT and each completed multipart
 * upload visible whole or not at all, which is the atomic write the BlobStore interface promises; ETags are
 * never interpreted (their format differs between stores and upload styles).
 */
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  type ListObjectsCommandOutput,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { type BlobInfo, type BlobStore, type ByteSource, invalid, notFound } from "@cairn/core";
import { checkKey, checkPrefix, checkRange } from "../fs/_keys.js";
import { isBadRange, isMissing, s3Error } from "./_errors.js";
import { parseS3Location, type S3Credentials, type S3Location, type S3Settings } from "./config.js";

const MiB = 1024 * 1024;
/**
 * Streamed bodies go up in parts of this size, at most PART_QUEUE at a time: a 64 MiB pack is never held whole,
 * only PART_SIZE × PART_QUEUE of it. A body that fits in one part is a single PutObject.
 */
const PART_SIZE = 8 * MiB;
const PART_QUEUE = 2;
/** In-memory bodies up to this go up as one PutObject; larger ones in parts (S3 caps a PUT at 5 GiB). */
const SINGLE_PUT_LIMIT = 64 * MiB;
/** CopyObject copies objects of at most 5 GiB; packs are far smaller. */
const COPY_LIMIT = 5 * 1024 * MiB;

/** Where the store is; with `credentials` the client signs with those keys, else the SDK's default chain's. */
export type S3BlobStoreOptions = S3Location;

export class S3BlobStore implements BlobStore {
  readonly kind = "s3";
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;
  private readonly where: { bucket: string; endpoint?: string };

  constructor(options: S3BlobStoreOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix;
    this.where = { bucket: options.bucket, ...(options.endpoint ? { endpoint: options.endpoint } : {}) };
    const config: S3ClientConfig = {
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      // Checksums only where S3 requires them: several S3-compatible stores reject the newer default ones.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    };
    if (options.endpoint) config.endpoint = options.endpoint;
    if (options.credentials) config.credentials = options.credentials;
    this.client = new S3Client(config);
  }

  private keyOf(key: string): string {
    return this.prefix + checkKey(key);
  }

  private fail(error: unknown, what: string): unknown {
    return s3Error(error, this.where, what);
  }

  async put(key: string, body: ByteSource | Uint8Array): Promise<void> {
    const Key = this.keyOf(key);
    const Bucket = this.bucket;
    if (body instanceof Uint8Array && body.byteLength <= SINGLE_PUT_LIMIT) {
      try {
        await this.client.send(
          new PutObjectCommand({ Bucket, Key, Body: body, ContentLength: body.byteLength }),
        );
      } catch (error) {
        throw this.fail(error, key);
      }
      return;
    }
    // A stream of unknown length: lib-storage sends it as one PutObject when it fits in a part, otherwise as a
    // multipart upload whose parts stay invisible until completed.
    let sourceError: unknown;
    const source =
      body instanceof Uint8Array
        ? body
        : Readable.from(
            (async function* () {
              try {
                for await (const piece of body) yield piece;
              } catch (error) {
                sourceError = error;
                throw error;
              }
            })(),
            { objectMode: false },
          );
    const upload = new Upload({
      client: this.client,
      params: { Bucket, Key, Body: source },
      partSize: PART_SIZE,
      queueSize: PART_QUEUE,
      // We abort ourselves, so that a store without AbortMultipartUpload cannot hide the real error.
      leavePartsOnError: true,
    });
    try {
      await upload.done();
    } catch (error) {
      await this.abandon(upload, Key);
      if (source instanceof Readable) source.destroy();
      // The caller's own stream failing is its error, not S3's.
      throw sourceError ?? this.fail(error, key);
    }
  }

  /**
   * Aborts a failed multipart upload so its parts stop costing storage. Its object never became visible either
   * way; if the abort itself fails (a network error, a store without the call), a bucket lifecycle rule for
   * incomplete multipart uploads removes the parts later.
   */
  private async abandon(upload: Upload, Key: string): Promise<void> {
    if (!upload.uploadId) return;
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: upload.uploadId }),
      );
    } catch {
      // See above: nothing visible is left behind.
    }
  }

  async *get(key: string, range?: { offset: number; length: number }): AsyncGenerator<Uint8Array> {
    const Key = this.keyOf(key);
    if (range) checkRange(range);
    if (range && range.length === 0) {
      if (!(await this.head(key))) throw notFound(`no blob ${key}`);
      return;
    }
    let body: Readable;
    try {
      const response = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key,
          ...(range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}),
        }),
      );
      body = response.Body as Readable;
    } catch (error) {
      // A range starting past the end of an object that exists reads as nothing (as a file would).
      if (range && isBadRange(error)) {
        if (await this.head(key)) return;
        throw notFound(`no blob ${key}`);
      }
      throw this.fail(error, key);
    }
    try {
      for await (const chunk of body) yield chunk as Uint8Array;
    } catch (error) {
      throw this.fail(error, key);
    } finally {
      // Frees the connection also when the consumer stops early.
      body.destroy();
    }
  }

  async head(key: string): Promise<BlobInfo | null> {
    const Key = this.keyOf(key);
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return { key, size: response.ContentLength ?? 0 };
    } catch (error) {
      if (isMissing(error)) return null;
      throw this.fail(error, key);
    }
  }

  /**
   * Every object whose key starts with `prefix`, in S3's (byte-wise) key order, a page (at most 1000) at a time.
   * Pages continue after the last key seen (ListObjects' marker): every S3-compatible store supports that,
   * while ListObjectsV2's opaque continuation tokens are where compatible stores differ most.
   */
  async *list(prefix: string): AsyncGenerator<BlobInfo> {
    checkPrefix(prefix);
    let Marker: string | undefined;
    for (;;) {
      const page = await this.listPage(this.prefix + prefix, Marker, `${prefix}*`);
      const objects = page.Contents ?? [];
      for (const object of objects) {
        if (object.Key === undefined) continue;
        yield { key: object.Key.slice(this.prefix.length), size: object.Size ?? 0 };
      }
      const last = objects.at(-1)?.Key;
      if (!page.IsTruncated || last === undefined) return;
      Marker = last;
    }
  }

  private async listPage(Prefix: string, Marker: string | undefined, what: string, MaxKeys?: number) {
    try {
      const page: ListObjectsCommandOutput = await this.client.send(
        new ListObjectsCommand({
          Bucket: this.bucket,
          Prefix,
          ...(Marker === undefined ? {} : { Marker }),
          ...(MaxKeys === undefined ? {} : { MaxKeys }),
        }),
      );
      return page;
    } catch (error) {
      throw this.fail(error, what);
    }
  }

  /** Removes an object; S3 deletes are idempotent, so deleting an absent object is fine. */
  async delete(key: string): Promise<void> {
    const Key = this.keyOf(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (error) {
      if (isMissing(error)) return;
      throw this.fail(error, key);
    }
  }

  /**
   * S3 has no rename: the object is copied server-side (the new key appears whole at once), then the old
   * one deleted. A crash between the two leaves both, which is a staging object GC sweeps, never a loss.
   */
  async move(from: string, to: string): Promise<void> {
    const source = this.keyOf(from);
    const target = this.keyOf(to);
    const info = await this.head(from);
    if (!info) throw notFound(`no blob ${from}`);
    if (from === to) return;
    if (info.size > COPY_LIMIT) {
      throw invalid(
        `cannot move ${from}: S3 copies objects of at most 5 GiB in one request, it has ${info.size} bytes`,
      );
    }
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: target,
          CopySource: `${this.bucket}/${source.split("/").map(encodeURIComponent).join("/")}`,
        }),
      );
    } catch (error) {
      throw this.fail(error, from);
    }
    await this.delete(from);
  }

  /**
   * Checks that the bucket exists and the credentials may list it (which garbage collection needs). A listing
   * rather than HeadBucket: its errors carry a code, so bad credentials and a missing bucket can be told apart.
   */
  async check(): Promise<void> {
    await this.listPage(this.prefix, undefined, "the bucket", 1);
  }

  close(): void {
    this.client.destroy();
  }
}

/**
 * Opens the bucket `blobUrl` names (`s3://bucket/prefix`, with the endpoint variables in `env`: the store's own,
 * or a migrate destination's per `settings`), checking that it exists and the credentials reach it. Explicit
 * `credentials` (tests, programs) win over any read from the environment.
 */
export async function openS3BlobStore(
  blobUrl: string,
  env: Record<string, string | undefined> = process.env,
  options: { settings?: S3Settings; credentials?: S3Credentials } = {},
): Promise<S3BlobStore> {
  const location = parseS3Location(blobUrl, env, options.settings);
  const store = new S3BlobStore({
    ...location,
    ...(options.credentials ? { credentials: options.credentials } : {}),
  });
  try {
    await store.check();
  } catch (error) {
    store.close();
    throw error;
  }
  return store;
}
