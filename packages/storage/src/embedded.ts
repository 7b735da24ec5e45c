/**
 * @module The embedded store: everything under one folder (`.cairn/` or CAIRN_HOME) — SQLite metadata in
 * `cairn.db`, chunk packs in `blobs/` — so a single user needs no server and no configuration.
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type BlobStore, type ChunkIndex, invalid, type SearchStore, type TrackingStore } from "@cairn/core";
import { ChunkStore } from "./chunks/chunk-store.js";
import { type FsBlobStore, openFsBlobStore } from "./fs/blob-store.js";
import { openSqliteMetadataStore, type SqliteMetadataStore } from "./sqlite/metadata-store.js";

export const EMBEDDED_DATABASE = "cairn.db";
export const EMBEDDED_BLOBS = "blobs";

export interface EmbeddedStore {
  /** The store's folder, absolute. */
  home: string;
  meta: SqliteMetadataStore;
  blobs: FsBlobStore;
  content: ChunkStore;
  /** Runs and metrics, in the metadata database. */
  tracking: TrackingStore;
  /** Search over versions and runs (core's filter language). */
  search: SearchStore;
  close(): Promise<void>;
}

/** Opens the embedded store in `home`, creating the folder, database and schema when they are missing. */
export async function openEmbeddedStore(home: string): Promise<EmbeddedStore> {
  if (typeof home !== "string" || home.trim() === "") throw invalid("the embedded store needs a folder path");
  const folder = resolve(home);
  try {
    await mkdir(folder, { recursive: true });
  } catch (error) {
    throw invalid(`cannot create the store folder ${folder}`, { cause: error });
  }
  const blobs = await openFsBlobStore(join(folder, EMBEDDED_BLOBS));
  const meta = await openSqliteMetadataStore(join(folder, EMBEDDED_DATABASE));
  return assembleStore(folder, meta, blobs);
}

/** What a metadata driver must offer besides the metadata port for a store to be built on it. */
interface StoreMetadata {
  chunkIndex(): ChunkIndex;
  tracking(): TrackingStore;
  search(): SearchStore;
  close(): Promise<void>;
}

/**
 * A store over opened drivers: the chunk store on the blobs and the metadata's chunk index, and a close that
 * ends the chunk store's session before the database closes, then releases the blob driver (an S3 client's
 * sockets), whatever fails on the way.
 */
export function assembleStore<H, M extends StoreMetadata, B extends BlobStore>(
  home: H,
  meta: M,
  blobs: B,
  releaseBlobs: () => void = () => {},
): {
  home: H;
  meta: M;
  blobs: B;
  content: ChunkStore;
  tracking: TrackingStore;
  search: SearchStore;
  close(): Promise<void>;
} {
  const content = new ChunkStore(blobs, meta.chunkIndex());
  return {
    home,
    meta,
    blobs,
    content,
    tracking: meta.tracking(),
    search: meta.search(),
    close: async () => {
      try {
        await content.close();
      } finally {
        try {
          await meta.close();
        } finally {
          releaseBlobs();
        }
      }
    },
  };
}
