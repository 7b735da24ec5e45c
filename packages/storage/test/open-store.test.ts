/**
 * Picking the drivers from the configuration: the embedded defaults, and configuration errors that name the
 * variable and the fix before anything is opened. (Opening PostgreSQL itself: postgres-content.test.ts.)
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, storeConfigFromEnv } from "@cairn/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

describe("openStore", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "cairn-open-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("without URLs opens the embedded store in the folder: SQLite and a blob folder", async () => {
    const home = join(dir, ".cairn");
    const store = await openStore(storeConfigFromEnv(home, {}));
    try {
      expect(store.meta.kind).toBe("sqlite");
      expect(store.home).toBe(home);
      expect(existsSync(join(home, "cairn.db"))).toBe(true);
      expect(existsSync(join(home, "blobs"))).toBe(true);
    } finally {
      await store.close();
    }
  });

  it("reads the URLs and the pool size from the environment", () => {
    const env = {
      CAIRN_DATABASE_URL: "postgres://cairn@db:5432/cairn",
      CAIRN_BLOB_URL: "s3://models/cairn",
      CAIRN_DATABASE_POOL_SIZE: "8",
    };
    expect(storeConfigFromEnv("/srv/cairn", env)).toEqual({
      home: "/srv/cairn",
      databaseUrl: "postgres://cairn@db:5432/cairn",
      blobUrl: "s3://models/cairn",
      databasePoolSize: 8,
    });
  });

  it.each([
    [{ CAIRN_DATABASE_POOL_SIZE: "lots" }, /CAIRN_DATABASE_POOL_SIZE must be a whole number/],
    [{ CAIRN_DATABASE_POOL_SIZE: "0" }, /CAIRN_DATABASE_POOL_SIZE must be a whole number/],
  ])("refuses a bad pool size, naming the variable: %o", (env, message) => {
    expect(() => storeConfigFromEnv(dir, env)).toThrow(message);
  });

  it("refuses a database URL that is not postgres://, naming the variable and the fix, without opening anything", async () => {
    const home = join(dir, "never");
    const opening = openStore({ home, databaseUrl: "mysql://root:secret@db/cairn" });
    await expect(opening).rejects.toMatchObject({
      code: "INVALID",
      message: expect.stringContaining("CAIRN_DATABASE_URL must be a postgres:// URL"),
      hint: expect.stringContaining("postgres://user:password@host:5432/database"),
    });
    await expect(opening).rejects.not.toThrow(/secret/);
    expect(existsSync(home)).toBe(false);
  });

  it("refuses a blob URL that is not s3://, naming the variable and the fix", async () => {
    await expect(openStore({ home: dir, blobUrl: "ftp://host/x" })).rejects.toMatchObject({
      code: "INVALID",
      message: expect.stringContaining("CAIRN_BLOB_URL must be an s3:// URL"),
      hint: expect.stringContaining("s3://bucket/prefix"),
    });
  });
});
