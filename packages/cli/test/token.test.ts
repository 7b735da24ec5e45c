/**
 * `cairn token` and `cairn alias protect` on the embedded store: secrets shown once and kept only hashed,
 * names unique, every change audited under the local user, and a created token accepted by `cairn serve`.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { removeSandboxes, type Sandbox, sandbox } from "./_cli.js";

afterAll(removeSandboxes);

interface CreatedJson {
  token: string;
  name: string;
  role: string;
  createdAt: string;
}
interface TokenJson {
  name: string;
  role: string;
  createdAt: string;
  createdBy: string;
}
interface AuditJson {
  actor: string;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
}

/** The bytes of the store's database and its write-ahead log, where any stored secret would be. */
function databaseBytes(s: Sandbox): Buffer {
  const parts: Buffer[] = [];
  for (const file of ["cairn.db", "cairn.db-wal"]) {
    try {
      parts.push(readFileSync(join(s.home, file)));
    } catch {
      // No WAL right now: everything is in the main file.
    }
  }
  return Buffer.concat(parts);
}

describe("cairn token", () => {
  it("create --json prints the secret once with its name, role and time; list never shows it", async () => {
    const s = await sandbox();
    const created = await s.json<CreatedJson>(["token", "create", "--role", "writer", "--name", "ci"]);
    expect(Object.keys(created).sort()).toEqual(["createdAt", "name", "role", "token"]);
    expect(created).toMatchObject({ name: "ci", role: "writer" });
    expect(created.token).toMatch(/^cairn_[A-Za-z0-9_-]{43}$/);
    expect(Number.isNaN(Date.parse(created.createdAt))).toBe(false);

    const listed = await s.json<TokenJson[]>(["token", "list"]);
    expect(listed).toEqual([
      { name: "ci", role: "writer", createdAt: created.createdAt, createdBy: "tester" },
    ]);
    expect(await s.ok(["token", "list"])).toMatch(/^NAME +ROLE +CREATED +BY\nci +writer +\S+ \S+ +tester\n$/);
  });

  it("create prints only the secret on stdout, so a script can capture it; the note goes to stderr", async () => {
    const s = await sandbox();
    const result = await s.run(["token", "create", "--role", "reader", "--name", "dashboards"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^cairn_[A-Za-z0-9_-]{43}\n$/);
    expect(result.stderr).toMatch(/created reader token dashboards; it is shown only now/);
  });

  it("keeps only the sha256 of each secret: the database holds no secret", async () => {
    const s = await sandbox();
    const secrets: string[] = [];
    for (const [name, role] of [
      ["a", "reader"],
      ["b", "writer"],
      ["c", "admin"],
    ]) {
      secrets.push((await s.json<CreatedJson>(["token", "create", "--role", role!, "--name", name!])).token);
    }
    const bytes = databaseBytes(s);
    for (const secret of secrets) {
      expect(bytes.includes(secret)).toBe(false);
      expect(bytes.includes(secret.slice("cairn_".length))).toBe(false);
      expect(bytes.includes(createHash("sha256").update(secret).digest("hex"))).toBe(true);
    }
  });

  it("refuses a taken name, an unknown role, a bad name, and a missing option", async () => {
    const s = await sandbox();
    await s.json(["token", "create", "--role", "admin", "--name", "ops"]);
    const taken = await s.jsonError(["token", "create", "--role", "reader", "--name", "ops"]);
    expect(taken).toMatchObject({ code: "CONFLICT", message: "a token named ops already exists" });
    expect((await s.jsonError(["token", "create", "--role", "reader", "--name", "has space"])).code).toBe(
      "INVALID",
    );
    expect((await s.jsonError(["token", "create", "--role", "reader", "--name", "anonymous"])).code).toBe(
      "INVALID",
    );

    const role = await s.run(["token", "create", "--role", "root", "--name", "x"]);
    expect(role.code).toBe(2);
    expect(role.stderr).toMatch(/reader, writer, admin/);
    expect((await s.run(["token", "create", "--role", "reader"])).code).toBe(2);
    expect((await s.run(["token", "create", "--name", "x"])).code).toBe(2);
    // Nothing was created by the refused commands.
    expect((await s.json<TokenJson[]>(["token", "list"])).map((t) => t.name)).toEqual(["ops"]);
  });

  it("revoke removes a token by name, audited; revoking it again is NOT_FOUND", async () => {
    const s = await sandbox();
    await s.json(["token", "create", "--role", "writer", "--name", "ci"]);
    const revoked = await s.json<TokenJson>(["token", "revoke", "ci"]);
    expect(revoked).toMatchObject({ name: "ci", role: "writer", createdBy: "tester" });
    expect(await s.json(["token", "list"])).toEqual([]);
    expect(await s.ok(["token", "list"])).toMatch(/^no tokens/);
    expect((await s.jsonError(["token", "revoke", "ci"])).code).toBe("NOT_FOUND");
    // The name is free again.
    await s.json(["token", "create", "--role", "reader", "--name", "ci"]);

    const log = await s.json<AuditJson[]>(["log"]);
    expect(log.slice(0, 3).map((e) => [e.action, e.target, e.actor, e.before, e.after])).toEqual([
      ["token.create", "token:ci", "tester", null, { role: "reader" }],
      ["token.revoke", "token:ci", "tester", { role: "writer" }, null],
      ["token.create", "token:ci", "tester", null, { role: "writer" }],
    ]);
    expect(JSON.stringify(log)).not.toMatch(/cairn_[A-Za-z0-9_-]{43}/);
  });

  it("a created token is what `cairn serve` then requires, and accepts", async () => {
    const s = await sandbox();
    const { token } = await s.json<CreatedJson>(["token", "create", "--role", "reader", "--name", "ci"]);
    const served = s.start(["serve", "--port", "0"]);
    try {
      let base = "";
      for (let waited = 0; waited < 20_000 && base === ""; waited += 50) {
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(await peek(served.child.stdout!));
        if (match) base = match[1]!;
        else await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(base).not.toBe("");
      expect((await fetch(`${base}/api/v1/artifacts`)).status).toBe(401);
      const ok = await fetch(`${base}/api/v1/artifacts`, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
    } finally {
      served.child.kill("SIGTERM");
      expect((await served.done).code).toBe(0);
    }
  });
});

// What a running child has printed so far (the sandbox collects stdout only when it exits).
const printed = new WeakMap<NodeJS.ReadableStream, string>();
async function peek(stream: NodeJS.ReadableStream): Promise<string> {
  if (!printed.has(stream)) {
    printed.set(stream, "");
    stream.on("data", (text: string | Buffer) => printed.set(stream, printed.get(stream) + String(text)));
  }
  return printed.get(stream)!;
}

describe("cairn alias protect", () => {
  it("protects and unprotects an alias, audited; the embedded CLI (single user) may still move it", async () => {
    const s = await sandbox();
    for (const weights of ["one", "two"]) {
      s.write("model.bin", weights);
      await s.ok(["push", "clf", "model.bin"]);
    }
    await s.ok(["alias", "set", "clf", "production", "0.1.0"]);

    const alias = await s.json<{ alias: string; version: string; protected: boolean }>([
      "alias",
      "protect",
      "clf",
      "production",
    ]);
    expect(alias).toMatchObject({ artifact: "clf", alias: "production", version: "0.1.0", protected: true });
    expect(await s.ok(["alias", "protect", "clf", "production"])).toBe(
      "protected clf@production: moving it needs an admin token\n",
    );

    expect(await s.ok(["alias", "set", "clf", "production", "0.2.0"])).toBe(
      "clf@production → 0.2.0 (was 0.1.0)\n",
    );
    expect(await s.ok(["rollback", "clf", "production"])).toMatch(/^rolled back clf@production → 0\.1\.0/);

    expect(
      (await s.json<{ protected: boolean }>(["alias", "unprotect", "clf", "production"])).protected,
    ).toBe(false);
    expect((await s.jsonError(["alias", "protect", "clf", "staging"])).code).toBe("NOT_FOUND");
    expect((await s.jsonError(["alias", "protect", "ghost", "production"])).code).toBe("NOT_FOUND");

    const log = await s.json<AuditJson[]>(["log", "clf"]);
    expect(log.filter((e) => e.action.startsWith("alias.")).map((e) => `${e.action} by ${e.actor}`)).toEqual([
      "alias.unprotect by tester",
      "alias.rollback by tester",
      "alias.set by tester",
      "alias.protect by tester",
      "alias.protect by tester",
      "alias.set by tester",
    ]);
  });
});
