/**
 * @module Opens the store a configuration names — the one place that picks the drivers. Metadata: SQLite in
 * the store folder by default, PostgreSQL when a database URL is set (CAIRN_DATABASE_URL). Blobs: the store
 * folder's `blobs/` by default, an S3-compatible bucket when a blob URL is set (CAIRN_BLOB_URL). The embedded
 * store (both defaults) is `openEmbeddedStore`, unchanged.
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  type BlobStore,
  CairnError,
  invalid,
  isCairnError,
  type MetadataStore,
  type SearchStore,
  type TrackingStore,
} from "@cairn/core";
import type { ChunkStore } from "./chunks/chunk-store.js";
import { assembleStore, EMBEDDED_BLOBS, EMBEDDED_DATABASE, openEmbeddedStore } from "./embedded.js";
import { openFsBlobStore } from "./fs/blob-store.js";
import { openPostgresMetadataStore } from "./postgres/metadata-store.js";
import { parseS3Location, type S3Settings } from "./s3/config.js";
import { openSqliteMetadataStore } from "./sqlite/metadata-store.js";

export interface StoreConfig {
  /**
   * The store folder (`.cairn/` or CAIRN_HOME), absolute or relative to the working folder: where the
   * SQLite database and the blob folder live unless URLs name other places. A function is called only when
   * the folder is needed, so a server on PostgreSQL and S3 needs none.
   */
  home?: string | (() => string);
  /** `postgres://user:password@host:5432/database` (CAIRN_DATABASE_URL). */
  databaseUrl?: string;
  /** Connections per process to PostgreSQL (CAIRN_DATABASE_POOL_SIZE, default 4). */
  databasePoolSize?: number;
  /** `s3://bucket/prefix` (CAIRN_BLOB_URL). */
  blobUrl?: string;
  /**
   * Whose endpoint, region and keys open the bucket: the store's own variables (default), or the destination
   * of `cairn migrate`'s CAIRN_TO_… ones over them.
   */
  s3Settings?: S3Settings;
}

/** An open store, whichever drivers are behind it: what the CLI and the server work with. */
export interface Store {
  /** The store folder, when one is used. */
  home: string | null;
  meta: MetadataStore;
  blobs: BlobStore;
  content: ChunkStore;
  /** Runs and metrics, in the metadata database. */
  tracking: TrackingStore;
  /** Search over versions and runs (core's filter language). */
  search: SearchStore;
  close(): Promise<void>;
}

/** The variables the store's configuration is read from, for messages. */
export const STORE_VARIABLES = {
  databaseUrl: "CAIRN_DATABASE_URL",
  databasePoolSize: "CAIRN_DATABASE_POOL_SIZE",
  blobUrl: "CAIRN_BLOB_URL",
} as const;

/** The configuration in the environment; `home` is passed through (the CLI finds it like git finds .git). */
export function storeConfigFromEnv(
  home: StoreConfig["home"],
  env: Record<string, string | undefined> = process.env,
): StoreConfig {
  const config: StoreConfig = { home };
  const databaseUrl = env[STORE_VARIABLES.databaseUrl];
  if (databaseUrl) config.databaseUrl = databaseUrl;
  const blobUrl = env[STORE_VARIABLES.blobUrl];
  if (blobUrl) config.blobUrl = blobUrl;
  const poolSize = env[STORE_VARIABLES.databasePoolSize];
  if (poolSize) {
    if (!/^\d+$/.test(poolSize) || Number(poolSize) < 1 || Number(poolSize) > 100) {
      throw invalid(
        `${STORE_VARIABLES.databasePoolSize} must be a whole number from 1 to 100, not ${poolSize}`,
        {
          hint: `unset ${STORE_VARIABLES.databasePoolSize} for the default of 4`,
        },
      );
    }
    config.databasePoolSize = Number(poolSize);
  }
  return config;
}

/** Checks a configuration before anything is opened; errors name the variable and the fix. */
function checkConfig(config: StoreConfig): void {
  const { databaseUrl, blobUrl } = config;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\/[^/]/.test(databaseUrl)) {
    const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(databaseUrl)?.[0] ?? "no scheme";
    throw invalid(`${STORE_VARIABLES.databaseUrl} must be a postgres:// URL, not one with ${scheme}`, {
      hint: `set it to postgres://user:password@host:5432/database, or unset it to keep metadata in SQLite in the store folder`,
    });
  }
  if (blobUrl !== undefined) parseS3Location(blobUrl, process.env, config.s3Settings);
}

/** Adds the variable to fix to a driver's error about the place it names. */
function naming(variable: string, error: unknown): unknown {
  if (!isCairnError(error) || error.code !== "INTERNAL") return error;
  return new CairnError(error.code, error.message, {
    hint: `${error.hint ? `${error.hint}; ` : ""}${variable} names it`,
    cause: error,
  });
}

/** The blob driver, and how to release it (an S3 client holds sockets; a folder holds nothing). */
async function openBlobs(
  config: StoreConfig,
  home: () => string,
): Promise<{ blobs: BlobStore; release: () => void }> {
  if (config.blobUrl !== undefined) {
    // The endpoint and addressing style are read from the environment with the URL; credentials by the SDK,
    // unless a migrate destination has its own.
    // Loaded only here: the AWS SDK takes a third of a second to import, which no embedded command should pay.
    try {
      const { openS3BlobStore } = await import("./s3/blob-store.js");
      const blobs = await openS3BlobStore(config.blobUrl, process.env, {
        ...(config.s3Settings ? { settings: config.s3Settings } : {}),
      });
      return { blobs, release: () => blobs.close() };
    } catch (error) {
      // A migrate destination's bucket is not CAIRN_BLOB_URL's: the CLI names its own flag and variables.
      throw config.s3Settings === "migrate-destination" ? error : naming(STORE_VARIABLES.blobUrl, error);
    }
  }
  return { blobs: await openFsBlobStore(join(home(), EMBEDDED_BLOBS)), release: () => {} };
}

async function openMeta(
  config: StoreConfig,
  home: () => string,
): Promise<
  MetadataStore & { chunkIndex(): ChunkStore["index"]; tracking(): TrackingStore; search(): SearchStore }
> {
  if (config.databaseUrl === undefined) return openSqliteMetadataStore(join(home(), EMBEDDED_DATABASE));
  try {
    return await openPostgresMetadataStore({
      url: config.databaseUrl,
      ...(config.databasePoolSize === undefined ? {} : { poolSize: config.databasePoolSize }),
    });
  } catch (error) {
    throw naming(STORE_VARIABLES.databaseUrl, error);
  }
}

/** Opens the configured store, creating the folder, database schema and blob place when missing. */
export async function openStore(config: StoreConfig): Promise<Store> {
  checkConfig(config);
  if (config.databaseUrl === undefined && config.blobUrl === undefined) {
    const home = typeof config.home === "function" ? config.home() : config.home;
    if (home === undefined) throw invalid("the embedded store needs a folder path");
    return openEmbeddedStore(home);
  }
  let folder: string | undefined;
  const home = (): string => {
    if (folder === undefined) {
      const given = typeof config.home === "function" ? config.home() : config.home;
      if (given === undefined || given.trim() === "") throw invalid("the store needs a folder for its files");
      folder = resolve(given);
    }
    return folder;
  };
  const needsFolder = config.databaseUrl === undefined || config.blobUrl === undefined;
  if (needsFolder) {
    try {
      await mkdir(home(), { recursive: true });
    } catch (error) {
      throw invalid(`cannot create the store folder ${home()}`, { cause: error });
    }
  }
  const { blobs, release } = await openBlobs(config, home);
  let meta: Awaited<ReturnType<typeof openMeta>>;
  try {
    meta = await openMeta(config, home);
  } catch (error) {
    release();
    throw error;
  }
  return assembleStore(folder ?? null, meta, blobs, release);
}
