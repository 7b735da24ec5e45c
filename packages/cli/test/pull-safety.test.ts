import { existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listTree, removeSandboxes, type Sandbox, sandbox } from "./_cli.js";

afterAll(removeSandboxes);

/** Rewrites a stored file path behind cairn's back, as a damaged or hostile database would hold it. */
function craftPath(s: Sandbox, ref: { name: string; version: string }, from: string, to: string): void {
  const db = new Database(join(s.home, "cairn.db"));
  try {
    const changed = db
      .prepare(
        `UPDATE version_files SET path = ?
         WHERE path = ? AND version_id = (SELECT v.id FROM versions v JOIN artifacts a ON a.id = v.artifact_id
                                          WHERE a.name = ? AND v.version = ?)`,
      )
      .run(to, from, ref.name, ref.version).changes;
    expect(changed).toBe(1);
  } finally {
    db.close();
  }
}

describe("pull never writes outside DIR", () => {
  let s: Sandbox;
  beforeAll(async () => {
    s = await sandbox();
    s.write("payload/a.txt", "harmless");
    s.write("payload/b.txt", "EVIL");
  });

  it.each([
    ["../evil", "dotdot", "../evil"],
    ["zz/../../evil", "nested", "../evil"],
    ["..\\evil", "backslash", "../evil"],
    ["inside/../../../evil", "deeper", "../../evil"],
  ])("a stored path %s is refused: pull fails and writes nothing", async (crafted, name, landing) => {
    await s.ok(["push", name, "payload"]);
    craftPath(s, { name, version: "0.1.0" }, "b.txt", crafted);

    const target = join(s.root, "pulls", name);
    const dir = join(target, "dir");
    const result = await s.run(["pull", `${name}@0.1.0`, "-o", dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: file path .* escapes its folder/);
    expect((await s.jsonError(["pull", `${name}@0.1.0`, "-o", dir])).code).toBe("INVALID");

    expect(existsSync(join(dir, landing))).toBe(false);
    // Every path is checked before any is written: not even the harmless file is there, whichever sorts first.
    expect(listTree(dir)).toEqual([]);
    expect(listTree(target).filter((p) => p.includes("evil"))).toEqual([]);
  });

  it("an absolute stored path is refused", async () => {
    await s.ok(["push", "absolute", "payload"]);
    const outside = join(s.root, "absolute-evil");
    craftPath(s, { name: "absolute", version: "0.1.0" }, "b.txt", outside);
    const error = await s.jsonError(["pull", "absolute@0.1.0", "-o", join(s.root, "abs-dir")]);
    expect(error).toMatchObject({ code: "INVALID", message: expect.stringContaining("is absolute") });
    expect(existsSync(outside)).toBe(false);
  });

  it("a symlink already in DIR cannot lead a pulled file outside it", async () => {
    s.write("linked/a.txt", "harmless");
    s.write("linked/sub/x.txt", "EVIL");
    await s.ok(["push", "linked", "linked"]);
    const outside = join(s.root, "outside");
    mkdirSync(outside);

    // A folder symlink on the way to a file.
    const dir = join(s.root, "into-link");
    mkdirSync(dir);
    symlinkSync(outside, join(dir, "sub"));
    const viaFolder = await s.jsonError(["pull", "linked@0.1.0", "-o", dir]);
    expect(viaFolder).toMatchObject({
      code: "INVALID",
      message: expect.stringContaining("a symlink leads outside"),
    });
    expect(listTree(outside)).toEqual([]);

    // The file itself a symlink pointing out.
    const dir2 = join(s.root, "file-link");
    mkdirSync(dir2);
    s.write("../outside-file.txt", "precious");
    symlinkSync(join(s.root, "outside-file.txt"), join(dir2, "a.txt"));
    const viaFile = await s.jsonError(["pull", "linked@0.1.0", "-o", dir2]);
    expect(viaFile).toMatchObject({ code: "INVALID", message: expect.stringContaining("is a symlink") });
    expect(readFileSync(join(s.root, "outside-file.txt"), "utf8")).toBe("precious");
  });
});
