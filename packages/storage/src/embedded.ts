/**
 * @module The embedded store: everything under one folder (`.cairn/` or CAIRN_HOME) — SQLite metadata in
 * `cairn.db`, chunk packs in `blobs/` — so a single user needs no server and no configuration.
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { invalid, type SearchStore, type TrackingStore } from "@cairn/core";
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
  const content = new ChunkStore(blobs, meta.chunkIndex());
  return {
    home: folder,
    meta,
    blobs,
    content,
    tracking: meta.tracking(),
    search: meta.search(),
    close: async () => {
      try {
        await content.close();
      } finally {
        await meta.close();
      }
    },
  };
}
