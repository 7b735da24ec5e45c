import { chmodSync, existsSync, readFileSync, statSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  folderBytes,
  listTree,
  removeSandboxes,
  type Sandbox,
  sandbox,
  sha256,
  sha256File,
  type VersionJson,
  type VersionRow,
} from "./_cli.js";

afterAll(removeSandboxes);

describe("pushing a version", () => {
  it("records params, metrics, notes, tags and aliases, and show --json returns all of it", async () => {
    const s = await sandbox();
    s.write("model.bin", "weights v1");
    s.write("params.yaml", "optimizer:\n  name: adam\n  lr: 0.001\nlayers: [64, 32]\nlr: 0.5\n");
    s.write("metrics.json", JSON.stringify({ eval: { acc: 0.93, f1: "0.9" }, loss: 0.2 }));
    const pushed = await s.json<VersionJson>([
      "push",
      "clf",
      "model.bin",
      "--params",
      "params.yaml",
      "--param",
      "lr=0.01",
      "--param",
      "arch=resnet",
      "--param",
      "frozen=true",
      "--metrics",
      "metrics.json",
      "--metric",
      "auc=0.97",
      "-m",
      "First release.",
      "--tag",
      "team=nlp",
      "--tag",
      "stage=candidate",
      "--alias",
      "staging",
    ]);
    const shown = await s.json<VersionJson>(["show", "clf@0.1.0"]);
    expect(shown).toEqual(pushed);
    expect(shown).toMatchObject({
      name: "clf",
      version: "0.1.0",
      seq: 1,
      type: "model",
      createdBy: "tester",
      files: [{ path: "model.bin", size: 10, sha256: sha256("weights v1") }],
      // --param overrides the file's value of the same key.
      params: {
        optimizer: { name: "adam", lr: 0.001 },
        layers: [64, 32],
        lr: 0.01,
        arch: "resnet",
        frozen: true,
      },
      metrics: { "eval.acc": 0.93, "eval.f1": 0.9, loss: 0.2, auc: 0.97 },
      tags: { team: "nlp", stage: "candidate" },
      aliases: ["staging"],
      notes: "First release.",
      data: [],
      // Not inside a git work tree.
      code: null,
    });
    expect(Date.parse(shown.createdAt)).not.toBeNaN();
    expect(Object.keys(shown)).toEqual(
      expect.arrayContaining([
        "name",
        "version",
        "seq",
        "type",
        "createdAt",
        "files",
        "params",
        "metrics",
        "tags",
        "aliases",
        "notes",
        "data",
        "code",
      ]),
    );

    // The same from a JSON params file, YAML metrics and notes from a file.
    s.write("params.json", JSON.stringify({ lr: 0.02, schedule: { warmup: 100 } }));
    s.write("metrics.yaml", "acc: 0.95\nloss: 0.1\n");
    s.write("NOTES.md", "# 0.2.0\n\n- better\n");
    const second = await s.json<VersionJson>([
      "push",
      "clf",
      "model.bin",
      "--params",
      "params.json",
      "--metrics",
      "metrics.yaml",
      "--notes",
      "NOTES.md",
    ]);
    expect(second).toMatchObject({
      version: "0.2.0",
      seq: 2,
      params: { lr: 0.02, schedule: { warmup: 100 } },
      metrics: { acc: 0.95, loss: 0.1 },
      notes: "# 0.2.0\n\n- better\n",
      tags: {},
      aliases: [],
    });

    const text = await s.ok(["show", "clf@0.1.0"]);
    expect(text).toContain("clf@0.1.0  (#1, model)");
    expect(text).toContain("aliases   staging");
    expect(text).toContain("eval.acc = 0.93");
    expect(text).toContain("First release.");
  });

  it("bad params, metrics or tags are INVALID before anything is stored", async () => {
    const s = await sandbox();
    s.write("model.bin", "weights");
    s.write("broken.json", "{ nope");
    s.write("list.yaml", "- 1\n- 2\n");
    for (const args of [
      ["--params", "broken.json"],
      ["--params", "list.yaml"],
      ["--params", "missing.yaml"],
      ["--metric", "acc=high"],
      ["--metric", "acc"],
      ["--tag", "novalue"],
    ]) {
      const error = await s.jsonError(["push", "clf", "model.bin", ...args]);
      expect(error.code, args.join(" ")).toBe("INVALID");
    }
    expect(await s.json(["list"])).toEqual([]);
  });
});

describe("version numbers and refs", () => {
  let s: Sandbox;
  const pushed: string[] = [];
  beforeAll(async () => {
    s = await sandbox();
    s.write("model.bin", "weights");
    const push = async (...args: string[]) => {
      pushed.push((await s.json<VersionJson>(["push", "clf", "model.bin", ...args])).version);
    };
    await push();
    await push();
    await push("--bump", "patch");
    await push("--bump", "major");
    await push("--bump", "prerelease");
    await push("--bump", "prerelease");
    await push("--version", "v2.0.0-rc.1");
    await s.ok(["alias", "set", "clf", "production", "0.2.1"]);
  });

  it("default versions are 0.1.0 then 0.2.0; --bump patch/major/prerelease and --version as given", () => {
    expect(pushed).toEqual(["0.1.0", "0.2.0", "0.2.1", "1.0.0", "1.0.1-rc.1", "1.0.1-rc.2", "2.0.0-rc.1"]);
  });

  it("list NAME shows every version with its sequence number, in order", async () => {
    const rows = await s.json<VersionRow[]>(["list", "clf"]);
    expect(rows.map((r) => [r.version, r.seq])).toEqual(pushed.map((v, i) => [v, i + 1]));
    expect(rows.find((r) => r.version === "0.2.1")?.aliases).toEqual(["production"]);
    const text = await s.ok(["list", "clf"]);
    expect(text.split("\n")[0]).toMatch(/^VERSION\s+SEQ\s+CREATED\s+ALIASES\s+SIZE\s+METRICS$/);
    expect(text).toMatch(/^0\.2\.1\s+3\s+.*production/m);
  });

  it.each([
    ["clf@latest", "1.0.0"],
    ["clf", "1.0.0"],
    ["clf@^0.1", "0.1.0"],
    ["clf@^0.2", "0.2.1"],
    ["clf@~1.0.1-rc.1", "1.0.1-rc.2"],
    ["clf#2", "0.2.0"],
    ["clf#7", "2.0.0-rc.1"],
    ["clf@production", "0.2.1"],
    ["clf@1.0.1-rc.1", "1.0.1-rc.1"],
  ])("%s names %s", async (ref, version) => {
    expect((await s.json<VersionJson>(["show", ref])).version).toBe(version);
  });

  it("an invalid ref is INVALID", async () => {
    for (const ref of ["clf#0", "clf#x", "clf@@1", "../clf@1.0.0"]) {
      expect((await s.jsonError(["show", ref])).code, ref).toBe("INVALID");
    }
  });

  it("list shows each artifact with its type, version count and latest version", async () => {
    s.write("data/train.csv", "a,b\n1,2\n");
    await s.ok(["push", "iris", "data", "--type", "dataset"]);
    const artifacts = await s.json<Array<Record<string, unknown>>>(["list"]);
    expect(artifacts).toEqual([
      expect.objectContaining({ name: "clf", type: "model", versionCount: 7, latestVersion: "2.0.0-rc.1" }),
      expect.objectContaining({ name: "iris", type: "dataset", versionCount: 1, latestVersion: "0.1.0" }),
    ]);
    const text = await s.ok(["list"]);
    expect(text).toMatch(/^clf\s+model\s+7\s+2\.0\.0-rc\.1/m);
    expect(text).toMatch(/^iris\s+dataset\s+1\s+0\.1\.0/m);
  });
});

describe("datasets and lineage", () => {
  let s: Sandbox;
  beforeAll(async () => {
    s = await sandbox();
    s.write("data/train.csv", "x,y\n1,0\n");
    s.write("model.bin", "weights");
  });

  it("a model version links the dataset versions it was made from", async () => {
    const dataset = await s.json<VersionJson>(["push", "iris", "data", "--type", "dataset"]);
    expect(dataset).toMatchObject({ name: "iris", version: "0.1.0", type: "dataset" });
    // A later dataset push keeps the type without --type.
    s.write("data/train.csv", "x,y\n1,0\n2,1\n");
    expect((await s.json<VersionJson>(["push", "iris", "data"])).type).toBe("dataset");

    const model = await s.json<VersionJson>(["push", "clf", "model.bin", "--data", "iris@0.1.0"]);
    expect(model.data).toEqual(["iris@0.1.0"]);
    // Refs are stored resolved to exact versions.
    const next = await s.json<VersionJson>(["push", "clf", "model.bin", "--data", "iris@latest"]);
    expect(next.data).toEqual(["iris@0.2.0"]);
    expect((await s.json<VersionJson>(["show", "clf@0.2.0"])).data).toEqual(["iris@0.2.0"]);
  });

  it("a data ref that does not exist is NOT_FOUND and nothing is pushed", async () => {
    const before = await s.json(["list"]);
    const stored = folderBytes(join(s.home, "blobs"));
    s.write("new-weights.bin", "bytes this store has never seen");
    const existing = await s.jsonError(["push", "clf", "new-weights.bin", "--data", "iris@9.0.0"]);
    expect(existing.code).toBe("NOT_FOUND");
    const fresh = await s.run(["push", "newmodel", "new-weights.bin", "--data", "nope@1.0.0"]);
    expect(fresh.code).toBe(1);
    expect(fresh.stderr).toMatch(/^error: no artifact named nope/);
    expect(await s.json(["list"])).toEqual(before);
    // Found out before any byte was stored.
    expect(folderBytes(join(s.home, "blobs"))).toBe(stored);
  });

  it("pushing to a dataset as a model is a CONFLICT", async () => {
    expect((await s.jsonError(["push", "iris", "model.bin", "--type", "model"])).code).toBe("CONFLICT");
  });
});

describe("folders and pull", () => {
  let s: Sandbox;
  beforeAll(async () => {
    s = await sandbox();
  });

  it("pushing a folder keeps nested relative paths, and pull writes byte-identical files", async () => {
    const files: Record<string, string> = {
      "model/weights.bin": "w".repeat(300_000),
      "model/config/arch.json": '{"layers": 3}',
      "deep/a/b/c.txt": "deep",
      "tokenizer.json": "{}",
      "run.sh": "#!/bin/sh\necho hi\n",
    };
    for (const [path, content] of Object.entries(files)) s.write(join("out", path), content);
    chmodSync(s.path("out", "run.sh"), 0o755);
    // A symlink pointing inside the pushed folder is stored as the file it points at.
    symlinkSync("model/weights.bin", s.path("out", "latest.bin"));
    symlinkSync("deep/a", s.path("out", "shortcut"));

    const version = await s.json<VersionJson>(["push", "nested", "out"]);
    const expected: Record<string, string> = {
      ...files,
      "latest.bin": files["model/weights.bin"]!,
      "shortcut/b/c.txt": files["deep/a/b/c.txt"]!,
    };
    expect(version.files.map((f) => f.path)).toEqual(Object.keys(expected).sort());
    for (const file of version.files) expect(file.sha256, file.path).toBe(sha256(expected[file.path]!));
    expect(version.files.find((f) => f.path === "run.sh")?.mode).toBe("0755");

    const pulled = await s.json<{ dir: string; files: number }>(["pull", "nested@0.1.0", "-o", "pulled"]);
    expect(pulled).toMatchObject({ dir: s.path("pulled"), files: Object.keys(expected).length });
    expect(listTree(s.path("pulled"))).toEqual(Object.keys(expected).sort());
    for (const [path, content] of Object.entries(expected)) {
      expect(await sha256File(s.path("pulled", path)), path).toBe(sha256(content));
    }
    expect(statSync(s.path("pulled", "run.sh")).mode & 0o777).toBe(0o755);

    // Without -o: ./NAME-VERSION.
    const text = await s.ok(["pull", "nested#1"]);
    expect(text).toMatch(/^pulled nested@0\.1\.0 into nested-0\.1\.0 \(7 files, /);
    expect(readFileSync(s.path("nested-0.1.0", "deep", "a", "b", "c.txt"), "utf8")).toBe("deep");
  });

  it("several PATHs: a file by its name, a folder by its contents", async () => {
    s.write("single.bin", "one");
    s.write("dir/inner/two.bin", "two");
    const version = await s.json<VersionJson>(["push", "multi", "single.bin", "dir"]);
    expect(version.files.map((f) => f.path)).toEqual(["inner/two.bin", "single.bin"]);
  });

  it("a symlink pointing outside the pushed folder is refused and nothing is recorded", async () => {
    s.write("secret.txt", "do not store me");
    s.write("leaky/model.bin", "weights");
    symlinkSync(join("..", "secret.txt"), s.path("leaky", "peek.txt"));
    const result = await s.run(["push", "leaky", "leaky"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: symlink peek\.txt points outside the pushed folder/);
    const error = await s.jsonError(["push", "leaky", "leaky"]);
    expect(error.code).toBe("INVALID");
    expect((await s.jsonError(["show", "leaky"])).code).toBe("NOT_FOUND");
    expect((await s.json<Array<{ name: string }>>(["list"])).map((a) => a.name)).not.toContain("leaky");
  });

  it("pushing a path that does not exist is INVALID", async () => {
    const error = await s.jsonError(["push", "ghost", "no-such-file.bin"]);
    expect(error).toMatchObject({ code: "INVALID", message: expect.stringContaining("no-such-file.bin") });
    expect(existsSync(s.path("ghost-0.1.0"))).toBe(false);
  });
});

describe("diff", () => {
  it("diff --json shows files, params, metric deltas, data and code", async () => {
    const s = await sandbox();
    s.write("iris/a.csv", "1");
    await s.ok(["push", "iris", "iris", "--type", "dataset"]);
    s.write("iris/a.csv", "2");
    await s.ok(["push", "iris", "iris"]);

    s.write("v1/a.txt", "same");
    s.write("v1/b.txt", "before");
    s.write("v1/old.txt", "gone soon");
    await s.ok([
      "push",
      "clf",
      "v1",
      ...["--param", "lr=0.1", "--param", "layers=2", "--param", "opt.name=sgd"],
      ...["--metric", "acc=0.8", "--metric", "loss=0.5"],
      ...["--data", "iris@0.1.0"],
    ]);
    s.write("v2/a.txt", "same");
    s.write("v2/b.txt", "after");
    s.write("v2/new.txt", "hello");
    s.write("p2.json", JSON.stringify({ lr: 0.01, dropout: 0.2, opt: { name: "adam" } }));
    await s.ok([
      "push",
      "clf",
      "v2",
      ...["--params", "p2.json"],
      ...["--metric", "acc=0.9", "--metric", "loss=0.5", "--metric", "f1=0.7"],
      ...["--data", "iris@0.2.0"],
    ]);

    const diff = await s.json<{
      files: Record<string, unknown>;
      params: Record<string, unknown>;
      metrics: Record<string, { a: number | null; b: number | null; delta: number | null }>;
      data: unknown;
      code: unknown;
    }>(["diff", "clf@0.1.0", "clf@0.2.0"]);
    expect(diff.files).toEqual({
      added: ["new.txt"],
      removed: ["old.txt"],
      changed: ["b.txt"],
      unchanged: 1,
    });
    // Nested params are compared by their dotted path: `opt.name` given flat and nested is one key.
    expect(diff.params).toEqual({
      added: { dropout: 0.2 },
      removed: { layers: 2 },
      changed: { lr: [0.1, 0.01], "opt.name": ["sgd", "adam"] },
    });
    expect(Object.keys(diff.metrics).sort()).toEqual(["acc", "f1"]);
    expect(diff.metrics["acc"]).toMatchObject({ a: 0.8, b: 0.9 });
    expect(diff.metrics["acc"]!.delta).toBeCloseTo(0.1, 12);
    expect(diff.metrics["f1"]).toEqual({ a: null, b: 0.7, delta: null });
    expect(diff.data).toEqual({ added: ["iris@0.2.0"], removed: ["iris@0.1.0"] });
    expect(diff.code).toEqual({ a: null, b: null, changed: false });

    const text = await s.ok(["diff", "clf@0.1.0", "clf@latest"]);
    expect(text).toContain("clf@0.1.0 → clf@0.2.0");
    expect(text).toContain("files: 1 added, 1 removed, 1 changed, 1 unchanged");
    expect(text).toMatch(/acc: 0\.8 → 0\.9 \(\+0\.1\)/);
  });
});
