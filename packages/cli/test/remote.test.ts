/**
 * The CLI's remote mode: the same scenarios run once on an embedded store and once through a real
 * `cairn serve --port 0` child process (from a folder with no store at all), and must print the same text and
 * JSON and exit with the same codes. Only what must differ is normalised: timestamps and the store's paths.
 * The actor is the same both ways because the remote side uses a token named like the local actor.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openEmbeddedStore } from "@cairn/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rotFile } from "./_bit-rot.js";
import {
  type RunningCli,
  removeSandboxes,
  type Sandbox,
  sandbox,
  serve,
  sha256,
  type VersionJson,
} from "./_cli.js";

afterAll(removeSandboxes);

const ACTOR = "tester"; // _cli.ts's CAIRN_ACTOR

interface Step {
  args: string[];
  code: number | null;
  stdout: string;
  /** Kept only for failures, where the message on stderr is the output. */
  stderr: string;
}

/** Replaces what legitimately differs between the two runs. */
function normalise(text: string, folders: string[]): string {
  let out = text
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<ISO>")
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/g, "<TIME_______>");
  for (const folder of folders) out = out.split(folder).join("<DIR>");
  return out;
}

/** The registry scenario of the embedded tests, as one list of commands; files are written along the way. */
async function scenario(box: Sandbox, env: Record<string, string>): Promise<Step[]> {
  const steps: Step[] = [];
  const run = async (...args: string[]) => {
    const result = await box.run(args, env);
    const failed = result.code !== 0;
    steps.push({ args, code: result.code, stdout: result.stdout, stderr: failed ? result.stderr : "" });
    return result;
  };
  box.write("model/weights.bin", "weights one");
  box.write("model/config.json", '{"layers":2}');
  box.write("params.yaml", "lr: 0.01\nepochs: 3\n");
  await run("push", "clf", "model", "--params", "params.yaml", "--metric", "accuracy=0.91");
  box.write("model/weights.bin", "weights two, longer");
  await run("push", "clf", "model", "--metric", "accuracy=0.93", "--param", "lr=0.02", "--json");
  box.write("extra.txt", "an extra file");
  await run("push", "clf", "model", "extra.txt", "--bump", "major", "-m", "new head", "--alias", "staging");
  box.write("data/train.csv", "a,b\n1,2\n");
  await run("push", "imdb", "data", "--type", "dataset", "--version", "1.0.0");
  await run("push", "clf", "model", "--data", "imdb@1.0.0", "--version", "2.1.0", "--tag", "team=nlp");
  await run("list");
  await run("list", "--json");
  await run("list", "clf");
  await run("list", "clf", "--json");
  await run("show", "clf@0.2.0");
  await run("show", "clf@staging", "--json");
  await run("show", "clf#1");
  await run("pull", "clf@0.2.0", "-o", "pulled");
  await run("pull", "clf@1.0.0", "--json");
  await run("diff", "clf@0.1.0", "clf@0.2.0");
  await run("diff", "clf@0.2.0", "clf@1.0.0", "--json");
  await run("alias", "set", "clf", "production", "0.1.0", "--reason", "first");
  await run("alias", "set", "clf", "production", "0.2.0");
  await run("alias", "protect", "clf", "production");
  await run("alias", "history", "clf");
  await run("alias", "history", "clf", "production", "--json");
  await run("rollback", "clf", "production", "--reason", "regression");
  await run("rollback", "clf", "production", "--to", "1.0.0", "--json");
  await run("alias", "rm", "clf", "staging");
  await run("alias", "unprotect", "clf", "production", "--json");
  await run("tag", "clf@0.1.0", "reviewed=yes", "owner=ana");
  await run("tag", "clf@0.1.0", "--rm", "owner", "--json");
  await run("notes", "clf@0.1.0", "-m", "Fixes the tokenizer");
  await run("notes", "clf@0.1.0");
  await run("notes", "clf@0.1.0", "--json");
  await run("log", "-n", "5");
  await run("log", "clf", "--json");
  await run("stats");
  await run("stats", "clf", "--json");
  await run("verify");
  await run("verify", "--json");
  await run("verify", "clf@0.2.0");
  await run("verify", "clf@production", "--json");
  // Errors: the same codes, messages and exit codes.
  await run("alias", "set", "clf", "production", "1.0.0", "--json"); // already there: CONFLICT
  await run("alias", "set", "clf", "production", "1.0.0");
  await run("show", "clf@9.9.9", "--json"); // NOT_FOUND
  await run("show", "nope@latest");
  await run("stats", "nope", "--json");
  await run("verify", "nope@1.0.0", "--json");
  await run("alias", "set", "clf", "Prod!", "0.1.0", "--json"); // INVALID
  await run("push", "clf", "model", "--version", "2.1.0", "--json"); // CONFLICT: exists
  await run("push", "clf", "model", "--data", "missing@1.0.0", "--json"); // NOT_FOUND before upload
  await run("push", "clf", "model", "--version", "not-semver", "--json"); // INVALID
  await run("push", "clf", "model", "--bump", "sideways", "--json"); // USAGE, exit 2
  await run("log", "-n", "zero");
  await run("rollback", "clf", "nothing-here", "--json");
  return steps;
}

describe("remote mode (--url / CAIRN_URL) against a real `cairn serve`", () => {
  let local: Sandbox;
  let host: Sandbox;
  let client: Sandbox;
  let serving: { url: string; server: RunningCli };
  let adminToken: string;

  beforeAll(async () => {
    [local, host, client] = await Promise.all([sandbox(), sandbox(), sandbox({ init: false })]);
    // The token is made on both sides, so the audit logs hold the same events with the same ids.
    adminToken = (await host.ok(["token", "create", "--role", "admin", "--name", ACTOR])).trim();
    await local.ok(["token", "create", "--role", "admin", "--name", ACTOR]);
    serving = await serve(host);
  }, 60_000);

  afterAll(async () => {
    if (!serving) return;
    serving.server.child.kill("SIGTERM");
    await serving.server.done;
  });

  it("every registry command prints the same text and JSON and exits the same as on an embedded store", async () => {
    const embedded = await scenario(local, {});
    const remote = await scenario(client, { CAIRN_URL: serving.url, CAIRN_TOKEN: adminToken });
    expect(remote.length).toBe(embedded.length);
    for (const [i, want] of embedded.entries()) {
      const got = remote[i]!;
      const label = `cairn ${want.args.join(" ")}`;
      expect(got.code, `${label}\n${got.stderr}`).toBe(want.code);
      expect(normalise(got.stdout, [client.cwd]), label).toBe(normalise(want.stdout, [local.cwd]));
      expect(normalise(got.stderr, [client.cwd]), label).toBe(normalise(want.stderr, [local.cwd]));
    }
    // The scenario did fail where it should, with each kind of error.
    const codes = embedded.filter((s) => s.code !== 0).map((s) => s.code);
    expect(codes).toContain(1);
    expect(codes).toContain(2);
    for (const code of ["CONFLICT", "NOT_FOUND", "INVALID", "USAGE"]) {
      expect(
        embedded.some((s) => s.stdout.includes(`"code": "${code}"`) || s.stdout.includes(`"code":"${code}"`)),
      ).toBe(true);
    }
    // Pulled files are byte-identical to what was pushed, and the server's store holds the versions.
    expect(readFileSync(client.path("pulled", "weights.bin"), "utf8")).toBe("weights two, longer");
    expect(sha256(readFileSync(client.path("clf-1.0.0", "extra.txt")))).toBe(sha256("an extra file"));
    const stored = await host.json<VersionJson>(["show", "clf@0.1.0"]);
    expect(stored).toMatchObject({
      tags: { reviewed: "yes" },
      notes: "Fixes the tokenizer",
      createdBy: ACTOR,
    });
  }, 120_000);

  it("--url and --token beat CAIRN_URL and CAIRN_TOKEN", async () => {
    const env = { CAIRN_URL: "http://127.0.0.1:1", CAIRN_TOKEN: "not-a-token" };
    const refused = await client.run(["list", "--json"], env);
    expect(refused.code).toBe(1);
    const list = await client.json<{ name: string }[]>(
      ["--url", serving.url, "--token", adminToken, "list"],
      env,
    );
    expect(list.map((a) => a.name)).toContain("clf");
  });

  it("tokens: an admin creates a reader over the API; the reader reads but gets FORBIDDEN (exit 1) on writes", async () => {
    const admin = { CAIRN_URL: serving.url, CAIRN_TOKEN: adminToken };
    const created = await client.json<{ token: string; name: string; role: string }>(
      ["token", "create", "--role", "reader", "--name", "dashboards"],
      admin,
    );
    expect(created).toMatchObject({ name: "dashboards", role: "reader" });
    const names = (await client.json<{ name: string }[]>(["token", "list"], admin)).map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining([ACTOR, "dashboards"]));

    const reader = { CAIRN_URL: serving.url, CAIRN_TOKEN: created.token };
    expect((await client.json<VersionJson>(["show", "clf@0.1.0"], reader)).version).toBe("0.1.0");
    client.write("w.bin", "reader weights");
    for (const args of [
      ["push", "clf", "w.bin"],
      ["tag", "clf@0.1.0", "x=1"],
      ["token", "list"],
    ]) {
      const result = await client.run([...args, "--json"], reader);
      expect(result.code, args.join(" ")).toBe(1);
      expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: "FORBIDDEN" } });
    }
    // No token at all on a server that has tokens: refused too.
    const anonymous = await client.run(["list", "--json"], { CAIRN_URL: serving.url });
    expect(anonymous.code).toBe(1);
    expect(JSON.parse(anonymous.stdout).error.code).toMatch(/UNAUTHORIZED|FORBIDDEN/);

    const revoked = await client.json<{ name: string }>(["token", "revoke", "dashboards"], admin);
    expect(revoked.name).toBe("dashboards");
    expect((await client.run(["list", "--json"], reader)).code).toBe(1);
  });

  it("local-only commands (init, serve, fsck) are a USAGE error (exit 2) in remote mode", async () => {
    const env = { CAIRN_URL: serving.url, CAIRN_TOKEN: adminToken };
    for (const args of [["init"], ["serve", "--port", "0"], ["fsck"]]) {
      const result = await client.run([...args, "--json"], env);
      expect(result.code, args.join(" ")).toBe(2);
      expect(JSON.parse(result.stdout).error).toMatchObject({ code: "USAGE" });
    }
    // Nothing was made locally: the refused init left no store behind.
    expect(existsSync(client.path(".cairn"))).toBe(false);
  });

  it("the command tree loads neither the SDK nor the server until a command needs them", async () => {
    // A module hook in the real binary's process reports every module it resolves.
    const hook = client.write(
      "report-modules.mjs",
      'import { register } from "node:module";\n' +
        'register("data:text/javascript,export async function resolve(s, c, next) { const r = await next(s, c); ' +
        "process.stderr.write('LOADED ' + r.url + '\\\\n'); return r; }\");\n",
    );
    const result = await client.run(["--help"], { NODE_OPTIONS: `--import ${hook}` });
    expect(result.code).toBe(0);
    const loaded = result.stderr.split("\n").filter((line) => line.startsWith("LOADED "));
    expect(loaded.some((line) => line.includes("packages/cli/"))).toBe(true);
    expect(loaded.filter((line) => /packages\/(sdk|server|storage)\//.test(line))).toEqual([]);
    // The hook does see them when a command needs one: a remote list loads the SDK.
    const remote = await client.run(["list"], {
      NODE_OPTIONS: `--import ${hook}`,
      CAIRN_URL: serving.url,
      CAIRN_TOKEN: adminToken,
    });
    expect(remote.code).toBe(0);
    expect(remote.stderr).toMatch(/^LOADED .*packages\/sdk\//m);
  });

  it("a remote push keeps its git capture: commit, branch, remote, and the uncommitted patch as content", async () => {
    const repo = await sandbox({ init: false });
    const git = (...args: string[]) =>
      execFileSync("git", args, {
        cwd: repo.cwd,
        encoding: "utf8",
        env: {
          ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("GIT_"))),
          GIT_CONFIG_GLOBAL: join(repo.root, "gitconfig"),
          GIT_CONFIG_NOSYSTEM: "1",
          GIT_AUTHOR_NAME: "Tester",
          GIT_AUTHOR_EMAIL: "tester@example.com",
          GIT_COMMITTER_NAME: "Tester",
          GIT_COMMITTER_EMAIL: "tester@example.com",
        },
      }).trimEnd();
    git("init", "--quiet", "--initial-branch=main");
    repo.write("train.py", "lr = 0.1\n");
    git("add", "train.py");
    git("commit", "--quiet", "-m", "first");
    git("remote", "add", "origin", "https://user:secret@example.com/team/clf.git");
    const head = git("rev-parse", "HEAD");
    repo.write("train.py", "lr = 0.01\n");
    repo.write("out/model.bin", "git-captured weights");
    const env = { CAIRN_URL: serving.url, CAIRN_TOKEN: adminToken };
    const pushed = await repo.json<VersionJson>(["push", "gitmodel", "out"], env);
    expect(pushed.code).toMatchObject({
      remote: "https://example.com/team/clf.git",
      branch: "main",
      commit: head,
      dirty: true,
      path: "out",
      patch: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    // The server's store holds the patch under that name, with the diff git shows.
    const store = await openEmbeddedStore(host.home);
    try {
      const sha = pushed.code!.patch!;
      const record = await store.content.index.getContent(sha);
      expect(record, "the patch is stored").not.toBeNull();
      const pieces: Uint8Array[] = [];
      for await (const piece of store.content.read({ sha256: sha, size: record!.size })) pieces.push(piece);
      expect(Buffer.concat(pieces).toString("utf8")).toContain("+lr = 0.01");
    } finally {
      await store.close();
    }
  });

  it("gc runs on the server's store for an admin, with the report an embedded gc gives; a reader is FORBIDDEN", async () => {
    const admin = { CAIRN_URL: serving.url, CAIRN_TOKEN: adminToken };
    const { liveSessions, ...remote } = await client.json<Record<string, unknown>>(
      ["gc", "--dry-run"],
      admin,
    );
    // Seen from beside it, the running server is itself a writer in flight; the rest is the same sweep.
    const { liveSessions: _, ...embedded } = await host.json<Record<string, unknown>>(["gc", "--dry-run"]);
    expect(remote).toEqual(embedded);
    expect(remote).toMatchObject({ dryRun: true });
    expect(liveSessions).toBe(0);
    const firstLine = (text: string) => text.split("\n")[0];
    expect(firstLine(await client.ok(["gc", "--dry-run"], admin))).toBe(
      firstLine(await host.ok(["gc", "--dry-run"])),
    );

    const reader = await client.json<{ token: string }>(
      ["token", "create", "--role", "reader", "--name", "gc-reader"],
      admin,
    );
    const refused = await client.run(["gc", "--json"], { CAIRN_URL: serving.url, CAIRN_TOKEN: reader.token });
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).error.code).toBe("FORBIDDEN");
  });

  // Last: it damages the server's store.
  it("verify after bit rot in the server's store: remote names the damaged file and exits 1, as embedded does", async () => {
    const admin = { CAIRN_URL: serving.url, CAIRN_TOKEN: adminToken };
    // extra.txt is in clf@1.0.0 only, and its one chunk is its own.
    await rotFile(host, sha256("an extra file"));

    const same = async (args: string[]) => {
      const [remote, embedded] = [await client.run(args, admin), await host.run(args)];
      expect(remote.code, args.join(" ")).toBe(embedded.code);
      expect(remote.stdout, args.join(" ")).toBe(embedded.stdout);
      expect(remote.stderr, args.join(" ")).toBe(embedded.stderr);
      return remote;
    };
    const whole = await same(["verify"]);
    expect(whole.code).toBe(1);
    expect(whole.stdout.trim().split("\n")).toEqual(["DAMAGED: 1 file(s)", "  clf@1.0.0: extra.txt"]);
    const error = JSON.parse((await same(["verify", "--json"])).stdout).error;
    expect(error).toMatchObject({ code: "INTEGRITY", message: "1 damaged file(s): clf@1.0.0: extra.txt" });
    const one = await same(["verify", "clf@1.0.0", "--json"]);
    expect(one.code).toBe(1);
    expect(JSON.parse(one.stdout).error.code).toBe("INTEGRITY");
    // Other versions are untouched.
    expect((await same(["verify", "clf@0.2.0", "--json"])).code).toBe(0);

    const reader = await client.json<{ token: string }>(
      ["token", "create", "--role", "reader", "--name", "verify-reader"],
      admin,
    );
    const refused = await client.run(["verify", "--json"], {
      CAIRN_URL: serving.url,
      CAIRN_TOKEN: reader.token,
    });
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).error.code).toBe("FORBIDDEN");
  });
});
