import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ByteSource, ContentStore, StoredContent } from "@cairn/core";
import { buildApp } from "@cairn/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API, buildFixture, expectError, type Fixture, sha256 } from "./_fixture.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
});
afterAll(async () => {
  await fx?.close();
});

const fileUrl = (version: string, path: string) =>
  `${API}/artifacts/classifier/versions/${version}/files/${path}`;

describe("file downloads", () => {
  it("streams a file's exact bytes with content-length and its sha256 as etag", async () => {
    const expected = fx.files.get("classifier@0.2.0:model.bin")!;
    const res = await fx.app.inject({ method: "GET", url: fileUrl("0.2.0", "model.bin") });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("application/octet-stream");
    expect(Number(res.headers["content-length"])).toBe(expected.length);
    expect(res.headers["etag"]).toBe(`"${sha256(expected)}"`);
    expect(res.rawPayload.equals(expected)).toBe(true);
  });

  it("serves files in subfolders and small files", async () => {
    const res = await fx.app.inject({ method: "GET", url: fileUrl("0.2.0", "bin/run.sh") });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe("#!/bin/sh\n");
  });

  it("answers 304 when the client already holds the bytes", async () => {
    const first = await fx.app.inject({ method: "GET", url: fileUrl("0.1.0", "config.json") });
    const again = await fx.app.inject({
      method: "GET",
      url: fileUrl("0.1.0", "config.json"),
      headers: { "if-none-match": String(first.headers["etag"]) },
    });
    expect(again.statusCode).toBe(304);
    expect(again.rawPayload.length).toBe(0);
  });

  it("answers NOT_FOUND for a path the version does not have, or a missing version", async () => {
    expectError(
      await fx.app.inject({ method: "GET", url: fileUrl("0.1.0", "bin/run.sh") }),
      404,
      "NOT_FOUND",
      /classifier@0\.1\.0 has no file bin\/run\.sh/,
    );
    expectError(await fx.app.inject({ method: "GET", url: fileUrl("7.0.0", "model.bin") }), 404, "NOT_FOUND");
  });

  it.each([
    ["..%2F..%2F..%2Fetc%2Fpasswd"],
    ["..%2Fcairn.db"],
    ["%2E%2E/%2E%2E/cairn.db"],
    ["bin/..%2F..%2F..%2Fcairn.db"],
    ["%2Fetc%2Fpasswd"],
    ["..%5C..%5Ccairn.db"],
    ["model.bin%00.txt"],
  ])("refuses the path traversal attempt %s with INVALID", async (path) => {
    const res = await fx.app.inject({ method: "GET", url: fileUrl("0.1.0", path) });
    expectError(res, 400, "INVALID");
    expect(res.body).not.toContain("root:");
  });

  it("a path that only looks odd but names no file is simply not found", async () => {
    expectError(
      await fx.app.inject({ method: "GET", url: fileUrl("0.1.0", "model.bin.bak") }),
      404,
      "NOT_FOUND",
    );
  });
});

async function packFiles(dir: string): Promise<string[]> {
  const packs: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith(".pack")) packs.push(join(e.parentPath, e.name));
  }
  return packs;
}

describe("damaged content", () => {
  it("answers INTEGRITY naming the version and file when the first bytes fail verification", async () => {
    const damaged = await buildFixture();
    try {
      // Flip a byte in the middle of every pack.
      for (const pack of await packFiles(join(damaged.home, "blobs"))) {
        const bytes = await readFile(pack);
        const at = Math.floor(bytes.length / 2);
        bytes[at] = (bytes[at] ?? 0) ^ 0xff;
        await writeFile(pack, bytes);
      }
      const res = await damaged.app.inject({ method: "GET", url: fileUrl("0.1.0", "model.bin") });
      expectError(res, 500, "INTEGRITY", /classifier@0\.1\.0: model\.bin/);
    } finally {
      await damaged.close();
    }
  });

  it("cuts the connection when verification fails after the last byte was read: the last bytes never go out", async () => {
    const good = fx.files.get("classifier@0.1.0:model.bin")!;
    const content = {
      read(stored: StoredContent): ByteSource {
        return (async function* () {
          yield good.subarray(0, 1000);
          yield good.subarray(1000, stored.size);
          // The whole-file sha256 is checked only after every chunk was read and yielded.
          throw new Error("the file's sha256 does not match what was stored");
        })();
      },
    } as unknown as ContentStore;
    const app = buildApp({ store: { meta: fx.store.meta, content, close: async () => {} } });
    try {
      await expect(app.inject({ method: "GET", url: fileUrl("0.1.0", "model.bin") })).rejects.toThrow(
        /destroyed before completion/,
      );
    } finally {
      await app.close();
    }
  });
});
