import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openEmbeddedStore } from "@cairn/storage";
import { afterAll, describe, expect, it } from "vitest";
import { commitFiles, git, removeSandboxes, type Sandbox, sandbox, type VersionJson } from "./_cli.js";

afterAll(removeSandboxes);

/** The bytes a version's code patch names, read back from the store. */
async function readPatch(s: Sandbox, sha256: string): Promise<Buffer> {
  const store = await openEmbeddedStore(s.home);
  try {
    const record = await store.content.index.getContent(sha256);
    expect(record, `patch ${sha256} is stored`).not.toBeNull();
    const pieces: Uint8Array[] = [];
    for await (const piece of store.content.read({ sha256, size: record!.size })) pieces.push(piece);
    return Buffer.concat(pieces);
  } finally {
    await store.close();
  }
}

describe("code capture from git", () => {
  it("records remote, branch and commit; a tracked edit makes it dirty and the stored patch applies", async () => {
    // The store and the model live inside the work tree, as in a training repository.
    const s = await sandbox();
    const head = commitFiles(s, { "train.py": "lr = 0.1\nepochs = 10\n", "README.md": "# model\n" }, "first");
    // Credentials in the URL must not be stored.
    git(s, s.cwd, "remote", "add", "origin", "https://user:secret-token@example.com/team/clf.git");

    // Untracked files (the model, the store itself) do not make the code dirty.
    s.write("out/model.bin", "weights 1");
    const clean = await s.json<VersionJson>(["push", "clf", "out"]);
    expect(clean.code).toEqual({
      remote: "https://example.com/team/clf.git",
      branch: "main",
      commit: head,
      dirty: false,
      patch: null,
      path: "out",
    });

    s.write("train.py", "lr = 0.01\nepochs = 10\n");
    s.write("out/model.bin", "weights 2");
    const dirty = await s.json<VersionJson>(["push", "clf", "out"]);
    expect(dirty.code).toMatchObject({
      commit: head,
      branch: "main",
      dirty: true,
      patch: expect.any(String),
    });
    expect((await s.json<VersionJson>(["show", "clf@0.2.0"])).code).toEqual(dirty.code);
    expect(await s.ok(["show", "clf@0.2.0"])).toContain(
      `code      ${head.slice(0, 12)} (dirty: uncommitted patch stored) on main from https://example.com/team/clf.git`,
    );

    // The patch rebuilds the edited tree from the recorded commit.
    const patch = await readPatch(s, dirty.code!.patch!);
    const checkout = join(s.root, "checkout");
    git(s, s.root, "clone", "--quiet", s.cwd, checkout);
    git(s, checkout, "checkout", "--quiet", dirty.code!.commit);
    writeFileSync(join(s.root, "code.patch"), patch);
    git(s, checkout, "apply", join(s.root, "code.patch"));
    expect(readFileSync(join(checkout, "train.py"), "utf8")).toBe("lr = 0.01\nepochs = 10\n");
    expect(git(s, checkout, "status", "--porcelain")).toBe(" M train.py");

    const diff = await s.json<{ code: unknown }>(["diff", "clf@0.1.0", "clf@0.2.0"]);
    expect(diff.code).toEqual({
      a: { commit: head, branch: "main", remote: "https://example.com/team/clf.git", dirty: false },
      b: { commit: head, branch: "main", remote: "https://example.com/team/clf.git", dirty: true },
      changed: true,
    });
  });

  it("a detached HEAD has no branch; outside a repository there is no code", async () => {
    const s = await sandbox();
    const head = commitFiles(s, { "train.py": "x = 1\n" }, "one");
    git(s, s.cwd, "checkout", "--quiet", "--detach");
    s.write("model.bin", "weights");
    const detached = await s.json<VersionJson>(["push", "clf", "model.bin"]);
    expect(detached.code).toMatchObject({ commit: head, branch: null, remote: null, dirty: false });

    const plain = await sandbox();
    plain.write("model.bin", "weights");
    expect((await plain.json<VersionJson>(["push", "clf", "model.bin"])).code).toBeNull();
  });
});
