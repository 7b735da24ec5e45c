import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AliasEventJson, removeSandboxes, type Sandbox, sandbox, type VersionJson } from "./_cli.js";

afterAll(removeSandboxes);

interface AuditJson {
  id: number;
  at: string;
  actor: string;
  action: string;
  artifact: string | null;
  target: string;
  before: unknown;
  after: unknown;
}

async function threeVersions(): Promise<Sandbox> {
  const s = await sandbox();
  for (const weights of ["one", "two", "three"]) {
    s.write("model.bin", weights);
    await s.ok(["push", "clf", "model.bin"]);
  }
  return s;
}

const at = async (s: Sandbox, ref: string): Promise<string> =>
  (await s.json<VersionJson>(["show", ref])).version;

/** Each move starts where the one before ended. */
function expectLinear(events: AliasEventJson[]): void {
  let previous: string | null = null;
  for (const event of events) {
    expect(event.from, `event ${event.id} (${event.action} → ${event.to})`).toBe(previous);
    previous = event.to;
  }
}

describe("aliases", () => {
  it("alias set moves an alias and records every move; show NAME@ALIAS follows it", async () => {
    const s = await threeVersions();
    const first = await s.json<AliasEventJson>([
      "alias",
      "set",
      "clf",
      "production",
      "0.1.0",
      "--reason",
      "first",
    ]);
    expect(first).toMatchObject({
      alias: "production",
      action: "set",
      from: null,
      to: "0.1.0",
      actor: "tester",
      reason: "first",
    });
    expect(await s.ok(["alias", "set", "clf", "production", "0.2.0"])).toBe(
      "clf@production → 0.2.0 (was 0.1.0)\n",
    );
    expect(await at(s, "clf@production")).toBe("0.2.0");
    expect((await s.json<VersionJson>(["show", "clf@0.2.0"])).aliases).toEqual(["production"]);
    expect((await s.json<VersionJson>(["show", "clf@0.1.0"])).aliases).toEqual([]);

    // Pointing it where it already points is a conflict, and an unknown version is not found.
    expect((await s.jsonError(["alias", "set", "clf", "production", "0.2.0"])).code).toBe("CONFLICT");
    expect((await s.jsonError(["alias", "set", "clf", "production", "7.0.0"])).code).toBe("NOT_FOUND");
    expect((await s.jsonError(["alias", "set", "clf", "Prod!", "0.1.0"])).code).toBe("INVALID");
    expect((await s.jsonError(["alias", "set", "clf", "latest", "0.1.0"])).code).toBe("INVALID");

    await s.ok(["alias", "set", "clf", "staging", "0.3.0"]);
    const history = await s.json<AliasEventJson[]>(["alias", "history", "clf", "production"]);
    expect(history.map((e) => [e.action, e.from, e.to])).toEqual([
      ["set", null, "0.1.0"],
      ["set", "0.1.0", "0.2.0"],
    ]);
    const all = await s.json<AliasEventJson[]>(["alias", "history", "clf"]);
    expect(all.map((e) => e.alias)).toEqual(["production", "production", "staging"]);
    const table = await s.ok(["alias", "history", "clf", "production"]);
    expect(table).toMatch(/^TIME\s+ALIAS\s+ACTION\s+FROM\s+TO\s+BY\s+REASON$/m);
    expect(table).toMatch(/production\s+set\s+-\s+0\.1\.0\s+tester\s+first$/m);
  });

  it("alias rm removes it, keeps the removal in the history, and the ref no longer resolves", async () => {
    const s = await threeVersions();
    await s.ok(["alias", "set", "clf", "staging", "0.3.0"]);
    const removed = await s.json<AliasEventJson>(["alias", "rm", "clf", "staging", "--reason", "retired"]);
    expect(removed).toMatchObject({ action: "remove", from: "0.3.0", to: null, reason: "retired" });
    expect((await s.jsonError(["show", "clf@staging"])).code).toBe("NOT_FOUND");
    expect((await s.jsonError(["alias", "rm", "clf", "staging"])).code).toBe("NOT_FOUND");
    const history = await s.json<AliasEventJson[]>(["alias", "history", "clf", "staging"]);
    expect(history.map((e) => [e.action, e.from, e.to])).toEqual([
      ["set", null, "0.3.0"],
      ["remove", "0.3.0", null],
    ]);
  });

  it("push --alias points the alias at the new version, as a recorded move", async () => {
    const s = await threeVersions();
    await s.ok(["alias", "set", "clf", "staging", "0.1.0"]);
    const pushed = await s.json<VersionJson>([
      "push",
      "clf",
      "model.bin",
      "--alias",
      "staging",
      "--alias",
      "canary",
    ]);
    expect(pushed.aliases.sort()).toEqual(["canary", "staging"]);
    expect(await at(s, "clf@staging")).toBe("0.4.0");
    const history = await s.json<AliasEventJson[]>(["alias", "history", "clf", "staging"]);
    expect(history.map((e) => [e.from, e.to])).toEqual([
      [null, "0.1.0"],
      ["0.1.0", "0.4.0"],
    ]);
  });
});

describe("rollback", () => {
  let s: Sandbox;
  beforeAll(async () => {
    s = await threeVersions();
    for (const v of ["0.1.0", "0.2.0", "0.3.0"]) await s.ok(["alias", "set", "clf", "production", v]);
  });

  it("moves the alias back to the version it held before, and again further back", async () => {
    const back = await s.json<AliasEventJson>(["rollback", "clf", "production", "--reason", "latency"]);
    expect(back).toMatchObject({ action: "rollback", from: "0.3.0", to: "0.2.0", reason: "latency" });
    expect(await at(s, "clf@production")).toBe("0.2.0");

    expect(await s.ok(["rollback", "clf", "production"])).toBe(
      "rolled back clf@production → 0.1.0 (was 0.2.0)\n",
    );
    expect(await at(s, "clf@production")).toBe("0.1.0");
  });

  it("with no earlier target, says so with a CONFLICT", async () => {
    const result = await s.run(["rollback", "clf", "production"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: clf@production has no earlier target to roll back to\n/);
    expect(result.stderr).toContain("--to VERSION");
    expect((await s.jsonError(["rollback", "clf", "production"])).code).toBe("CONFLICT");
    // An alias set only once has nothing to go back to either.
    await s.ok(["alias", "set", "clf", "canary", "0.3.0"]);
    expect((await s.jsonError(["rollback", "clf", "canary"])).code).toBe("CONFLICT");
    expect(await at(s, "clf@production")).toBe("0.1.0");
  });

  it("--to moves it to a named version; the whole history stays linear", async () => {
    const to = await s.json<AliasEventJson>(["rollback", "clf", "production", "--to", "0.3.0"]);
    expect(to).toMatchObject({ action: "rollback", from: "0.1.0", to: "0.3.0" });
    expect((await s.jsonError(["rollback", "clf", "production", "--to", "0.3.0"])).code).toBe("CONFLICT");
    expect((await s.jsonError(["rollback", "clf", "production", "--to", "9.9.9"])).code).toBe("NOT_FOUND");
    expect((await s.jsonError(["rollback", "nope", "production"])).code).toBe("NOT_FOUND");

    const history = await s.json<AliasEventJson[]>(["alias", "history", "clf", "production"]);
    expect(history.map((e) => [e.action, e.to])).toEqual([
      ["set", "0.1.0"],
      ["set", "0.2.0"],
      ["set", "0.3.0"],
      ["rollback", "0.2.0"],
      ["rollback", "0.1.0"],
      ["rollback", "0.3.0"],
    ]);
    expectLinear(history);
  });
});

describe("tags, notes and the log", () => {
  let s: Sandbox;
  beforeAll(async () => {
    s = await sandbox();
    s.write("model.bin", "weights");
    await s.ok(["push", "clf", "model.bin", "-m", "Initial notes.", "--tag", "team=nlp"]);
    await s.ok(["push", "clf", "model.bin"]);
  });

  it("tag K=V sets labels and tag --rm K removes them", async () => {
    const tagged = await s.json(["tag", "clf@0.1.0", "reviewed=yes", "owner=ada"]);
    expect(tagged).toEqual({
      name: "clf",
      version: "0.1.0",
      tags: { team: "nlp", reviewed: "yes", owner: "ada" },
    });
    expect(await s.ok(["tag", "clf@0.1.0", "--rm", "reviewed", "--rm", "owner"])).toBe("team=nlp\n");
    expect((await s.json<VersionJson>(["show", "clf@0.1.0"])).tags).toEqual({ team: "nlp" });
    // Editing tags is allowed on an immutable version, and touches nothing else.
    expect((await s.json<VersionJson>(["show", "clf@0.2.0"])).tags).toEqual({});

    const bare = await s.run(["tag", "clf@0.1.0"]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^error: give labels as KEY=VALUE, or --rm KEY/);
    expect((await s.jsonError(["tag", "clf@0.1.0", "novalue"])).code).toBe("INVALID");
  });

  it("notes prints a version's notes, and sets them with -m or --notes FILE", async () => {
    expect(await s.ok(["notes", "clf@0.1.0"])).toBe("Initial notes.\n");
    expect(await s.ok(["notes", "clf@0.2.0"])).toBe("(no notes)\n");
    expect(await s.ok(["notes", "clf@0.2.0", "-m", "Fixes the tokenizer."])).toBe(
      "notes of clf@0.2.0 updated\n",
    );
    expect(await s.json(["notes", "clf@0.2.0"])).toEqual({
      name: "clf",
      version: "0.2.0",
      notes: "Fixes the tokenizer.",
    });
    s.write("NOTES.md", "## 0.1.0\n\nRewritten.\n");
    await s.ok(["notes", "clf@0.1.0", "--notes", "NOTES.md"]);
    expect((await s.json<VersionJson>(["show", "clf@0.1.0"])).notes).toBe("## 0.1.0\n\nRewritten.\n");
    expect((await s.jsonError(["notes", "clf@0.1.0", "--notes", "missing.md"])).code).toBe("INVALID");
  });

  it("log lists events newest first, with alias moves and tag and notes edits", async () => {
    await s.ok(["alias", "set", "clf", "production", "0.2.0"]);
    await s.ok(["tag", "clf@0.2.0", "stage=prod"]);
    const events = await s.json<AuditJson[]>(["log", "clf"]);
    const ids = events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(events.slice(0, 2).map((e) => [e.action, e.target])).toEqual([
      ["version.tag", "clf@0.2.0"],
      ["alias.set", "clf@production"],
    ]);
    expect(events[0]).toMatchObject({ actor: "tester", before: {}, after: { stage: "prod" } });
    expect(events[1]).toMatchObject({ before: null, after: "0.2.0" });
    const actions = events.map((e) => e.action);
    expect(actions).toContain("version.notes");
    expect(actions.slice(-2)).toEqual(["version.create", "version.create"]);
    expect(actions.filter((a) => a === "version.tag").length).toBe(3);

    expect((await s.json<AuditJson[]>(["log", "-n", "1"])).map((e) => e.action)).toEqual(["version.tag"]);
    const text = await s.ok(["log", "clf", "-n", "2"]);
    expect(text.split("\n")[0]).toMatch(/^TIME\s+ACTOR\s+ACTION\s+TARGET\s+CHANGE$/);
    expect(text).toMatch(/tester\s+alias\.set\s+clf@production\s+- → 0\.2\.0/);
    expect((await s.run(["log", "-n", "0"])).code).toBe(2);
    expect((await s.jsonError(["log", "nope"])).code).toBe("NOT_FOUND");
  });
});
