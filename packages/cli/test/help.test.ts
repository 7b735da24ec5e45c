import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeSandboxes, type Sandbox, sandbox } from "./_cli.js";

afterAll(removeSandboxes);

describe("help", () => {
  let s: Sandbox;
  beforeAll(async () => {
    // No store: help must never need one.
    s = await sandbox({ init: false });
  });

  it("cairn --help lists every command, explains the store and refs, and has examples", async () => {
    const result = await s.run(["--help"]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    for (const command of [
      "init",
      "push",
      "list",
      "show",
      "pull",
      "diff",
      "alias",
      "rollback",
      "tag",
      "notes",
      "log",
      "run",
      "promote",
      "metrics",
      "migrate",
      "reproduce",
    ]) {
      expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    }
    expect(result.stdout).toContain("CAIRN_HOME");
    expect(result.stdout).toContain("name#3");
    expect(result.stdout).toMatch(/Examples:\n( {2}\$ cairn .+\n)+/);
  });

  // Each command, with the arguments its help must describe.
  it.each([
    ["init", []],
    [
      "push",
      [
        "<name>",
        "<path...>",
        "--version",
        "--bump",
        "--type",
        "--params",
        "--param",
        "--metrics",
        "--metric",
        "--message",
        "--notes",
        "--data",
        "--tag",
        "--alias",
        "--base",
        "--json",
      ],
    ],
    ["list", ["[name]", "--json"]],
    ["show", ["<ref>", "--json"]],
    ["pull", ["<ref>", "--output", "--json"]],
    ["diff", ["<a>", "<b>", "--json"]],
    ["alias", ["set", "rm", "history"]],
    ["alias set", ["<name>", "<alias>", "<version>", "--reason", "--json"]],
    ["alias rm", ["<name>", "<alias>", "--reason", "--json"]],
    ["alias history", ["<name>", "[alias]", "--json"]],
    ["rollback", ["<name>", "<alias>", "--to", "--reason", "--json"]],
    ["tag", ["<ref>", "[pairs...]", "--rm", "--json"]],
    ["notes", ["<ref>", "--message", "--notes", "--json"]],
    ["log", ["[name]", "--limit", "--json"]],
    ["run", ["start", "log", "artifact", "end", "show", "list"]],
    [
      "run start",
      ["--experiment", "--name", "--data", "--param", "--params", "--tag", "--command", "--json"],
    ],
    ["run log", ["<run>", "--metric", "--step", "--param", "--tag", "--json"]],
    ["run artifact", ["<run>", "<path...>", "--json"]],
    ["run end", ["<run>", "--status", "--json"]],
    ["run show", ["<run>", "--json"]],
    ["run list", ["--experiment", "--status", "--limit", "--json"]],
    ["promote", ["<run>", "<name>", "[path...]", "--version", "--bump", "--alias", "--base", "--json"]],
    ["reproduce", ["<ref>", "--output", "params.json", "--json"]],
    ["metrics", ["<target>", "[key]", "--csv", "--json"]],
    ["migrate", ["--to", "--to-database", "--to-blobs", "--dry-run", "--json"]],
  ])("cairn %s --help describes its arguments, with examples", async (command, mentions) => {
    const words = command.split(" ");
    const result = await s.run([...words, "--help"]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain(`Usage: cairn ${command}`);
    for (const mention of mentions) expect(result.stdout).toContain(mention);
    // An Examples section whose examples run this very command.
    const examples = result.stdout.split("Examples:\n")[1];
    expect(examples, "an Examples: section").toBeDefined();
    expect(examples).toMatch(new RegExp(`^  \\$ cairn ${command}( |$)`, "m"));
  });

  it("cairn --version prints the version", async () => {
    const result = await s.run(["--version"]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
