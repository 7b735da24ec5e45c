import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  folderBytes,
  parseJson,
  removeSandboxes,
  type Sandbox,
  sandbox,
  startCli,
  type VersionJson,
} from "./_cli.js";

afterAll(removeSandboxes);

describe("versions are immutable", () => {
  it("pushing an existing version fails with CONFLICT and changes nothing", async () => {
    const s = await sandbox();
    s.write("model.bin", "first weights");
    await s.ok(["push", "clf", "model.bin", "--version", "1.0.0", "--metric", "acc=0.9"]);
    const listBefore = await s.json(["list", "clf"]);
    const showBefore = await s.json<VersionJson>(["show", "clf@1.0.0"]);

    s.write("model.bin", "other weights");
    const human = await s.run(["push", "clf", "model.bin", "--version", "1.0.0", "--metric", "acc=0.1"]);
    expect(human.code).toBe(1);
    expect(human.stdout).toBe("");
    expect(human.stderr).toMatch(/^error: clf@1\.0\.0 already exists; versions are immutable\n/);

    const error = await s.jsonError(["push", "clf", "model.bin", "--version", "1.0.0"]);
    expect(error).toEqual({ code: "CONFLICT", message: expect.stringContaining("clf@1.0.0 already exists") });

    expect(await s.json(["list", "clf"])).toEqual(listBefore);
    expect(await s.json<VersionJson>(["show", "clf@1.0.0"])).toEqual(showBefore);
  });

  it("an invalid semver version is INVALID and records nothing", async () => {
    const s = await sandbox();
    s.write("model.bin", "weights");
    for (const bad of ["1.2", "01.2.3", "latest", "1.2.3.4"]) {
      const result = await s.run(["push", "clf", "model.bin", "--version", bad]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^error: invalid version .*not a semver 2\.0 version/);
      expect(await s.jsonError(["push", "clf", "model.bin", "--version", bad])).toMatchObject({
        code: "INVALID",
      });
    }
    expect(await s.json(["list"])).toEqual([]);
    // Checked before a single byte is stored, so a typo costs nothing even on a multi-GB push.
    expect(folderBytes(join(s.home, "blobs"))).toBe(0);
  });
});

describe("errors", () => {
  let s: Sandbox;
  beforeAll(async () => {
    s = await sandbox();
    s.write("model.bin", "weights");
    await s.ok(["push", "clf", "model.bin"]);
  });

  it.each([
    "show nope@1.0.0",
    "show clf@9.9.9",
    "show clf@staging",
    "show clf@^7",
    "pull clf#99",
    "diff clf@0.1.0 clf@0.2.0",
    "list nope",
    "alias set clf production 3.0.0",
    "tag nope@1.0.0 a=b",
  ])("an unknown ref is NOT_FOUND: cairn %s", async (command) => {
    const args = command.split(" ");
    const result = await s.run(args);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^error: /);
    const error = await s.jsonError(args);
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).not.toBe("");
  });

  it("with --json an error is one JSON object on stdout and nothing on stderr", async () => {
    const result = await s.run(["show", "clf@2.0.0", "--json"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("");
    expect(result.stdout.trim().split("\n")).toHaveLength(1);
    expect(parseJson(result)).toEqual({ error: { code: "NOT_FOUND", message: expect.any(String) } });
  });

  it.each([
    ["an unknown option", ["push", "clf", "model.bin", "--bogus"], /unknown option '--bogus'/],
    ["a missing argument", ["show"], /missing required argument 'ref'/],
    [
      "a bad --bump value",
      ["push", "clf", "model.bin", "--bump", "huge"],
      /--bump takes major, minor, patch/,
    ],
    ["an unknown command", ["frobnicate"], /unknown command 'frobnicate'/],
    [
      "--version with --bump",
      ["push", "clf", "model.bin", "--version", "3.0.0", "--bump", "major"],
      /not both/,
    ],
  ])("%s is a usage error: exit 2", async (_what, args, message) => {
    const result = await s.run(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^error: /);
    expect(result.stderr).toMatch(message);

    const json = await s.run([...args, "--json"]);
    expect(json.code).toBe(2);
    expect(parseJson(json)).toEqual({ error: { code: "USAGE", message: expect.stringMatching(message) } });
    // Nothing was recorded by the failed pushes.
    expect((await s.json<unknown[]>(["list", "clf"])).length).toBe(1);
  });

  it("without a store, says how to make one", async () => {
    const empty = await sandbox({ init: false });
    const result = await empty.run(["list"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: no cairn store in /);
    expect(result.stderr).toContain("cairn init");
    expect(result.stderr).toContain("CAIRN_HOME");
    expect((await empty.jsonError(["list"])).code).toBe("NO_STORE");
  });

  it("finds the store in a folder above, like git, and at CAIRN_HOME", async () => {
    const nested = s.path("deep", "er");
    mkdirSync(nested, { recursive: true });
    const above = parseJson<VersionJson>(
      await startCli(["show", "clf", "--json"], { cwd: nested, root: s.root }).done,
    );
    expect(above.version).toBe("0.1.0");

    const elsewhere = await sandbox({ init: false });
    const home = join(elsewhere.root, "registry");
    elsewhere.write("m.bin", "m");
    await elsewhere.ok(["push", "m", "m.bin"], { CAIRN_HOME: home });
    expect((await elsewhere.json<VersionJson>(["show", "m"], { CAIRN_HOME: home })).version).toBe("0.1.0");
    // The working folder still has no store of its own.
    expect((await elsewhere.jsonError(["list"])).code).toBe("NO_STORE");
  });
});
