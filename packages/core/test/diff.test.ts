import { type CodeInfo, diffVersions, flattenParams } from "@cairn/core";
import { describe, expect, it } from "vitest";
import { makeVersion, SHA_A, SHA_B, SHA_C } from "./helpers.js";

const file = (path: string, sha256: string, mode = 0o644) => ({ path, size: 10, mode, sha256 });

const code = (overrides: Partial<CodeInfo> = {}): CodeInfo => ({
  remote: "git@github.com:acme/vision.git",
  branch: "main",
  commit: "3f2a1c0d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a49",
  dirty: false,
  patch: null,
  path: "models/resnet",
  ...overrides,
});

describe("diff between two versions", () => {
  it("names both sides by exact ref", () => {
    const d = diffVersions(makeVersion({ version: "1.0.0" }), makeVersion({ version: "1.1.0" }));
    expect(d.a).toBe("resnet@1.0.0");
    expect(d.b).toBe("resnet@1.1.0");
  });

  describe("files", () => {
    const a = makeVersion({
      version: "1.0.0",
      files: [
        file("model.onnx", SHA_A),
        file("config.json", SHA_B),
        file("run.sh", SHA_C),
        file("labels.txt", SHA_C),
        file("old/tokenizer.json", SHA_B),
      ],
    });
    const b = makeVersion({
      version: "1.1.0",
      files: [
        file("model.onnx", SHA_B), // new weights
        file("config.json", SHA_B),
        file("run.sh", SHA_C, 0o755), // made executable
        file("labels.txt", SHA_C),
        file("tokenizer.json", SHA_B),
        file("README.md", SHA_A),
      ],
    });
    const d = diffVersions(a, b).files;

    it("a file only in the newer version is added; only in the older, removed", () => {
      expect(d.added).toEqual(["README.md", "tokenizer.json"]);
      expect(d.removed).toEqual(["old/tokenizer.json"]);
    });

    it("a file is changed when its content or its mode differs", () => {
      expect(d.changed).toEqual(["model.onnx", "run.sh"]);
    });

    it("files with the same content and mode are counted as unchanged", () => {
      expect(d.unchanged).toBe(2);
    });

    it("a version compared with itself has only unchanged files", () => {
      expect(diffVersions(a, a).files).toEqual({ added: [], removed: [], changed: [], unchanged: 5 });
    });
  });

  describe("params", () => {
    it("nested params are compared key by dotted key", () => {
      const a = makeVersion({
        version: "1.0.0",
        params: { epochs: 10, optimizer: { name: "adam", lr: 0.001, betas: [0.9, 0.999] }, dropout: 0.1 },
      });
      const b = makeVersion({
        version: "1.1.0",
        params: { epochs: 20, optimizer: { name: "adam", lr: 0.0005, betas: [0.9, 0.98] }, augment: true },
      });
      expect(diffVersions(a, b).params).toEqual({
        added: { augment: true },
        removed: { dropout: 0.1 },
        changed: {
          epochs: [10, 20],
          "optimizer.lr": [0.001, 0.0005],
          "optimizer.betas": [
            [0.9, 0.999],
            [0.9, 0.98],
          ],
        },
      });
    });

    it('a change of type counts as a change (1 is not "1", null is not absent)', () => {
      const a = makeVersion({ version: "1.0.0", params: { seed: 1, scheduler: null } });
      const b = makeVersion({ version: "1.1.0", params: { seed: "1" } });
      const d = diffVersions(a, b).params;
      expect(d.changed).toEqual({ seed: [1, "1"] });
      expect(d.removed).toEqual({ scheduler: null });
    });

    it("identical params show no change", () => {
      const params = { optimizer: { lr: 0.01 }, layers: [64, 64] };
      const d = diffVersions(
        makeVersion({ version: "1.0.0", params }),
        makeVersion({ version: "1.1.0", params }),
      );
      expect(d.params).toEqual({ added: {}, removed: {}, changed: {} });
    });

    it("flattening keeps arrays and empty objects as values", () => {
      expect(flattenParams({ a: { b: { c: 1 }, d: [1, { e: 2 }] }, f: {}, g: "x" })).toEqual({
        "a.b.c": 1,
        "a.d": [1, { e: 2 }],
        f: {},
        g: "x",
      });
    });
  });

  describe("metrics", () => {
    it("a metric in both versions shows both values and b − a", () => {
      const d = diffVersions(
        makeVersion({ version: "1.0.0", metrics: { accuracy: 0.9, loss: 0.5 } }),
        makeVersion({ version: "1.1.0", metrics: { accuracy: 0.93, loss: 0.25 } }),
      ).metrics;
      expect(d["accuracy"]?.a).toBe(0.9);
      expect(d["accuracy"]?.b).toBe(0.93);
      expect(d["accuracy"]?.delta).toBeCloseTo(0.03, 10);
      expect(d["loss"]).toEqual({ a: 0.5, b: 0.25, delta: -0.25 });
    });

    it("a metric on one side only has no delta", () => {
      const d = diffVersions(
        makeVersion({ version: "1.0.0", metrics: { bleu: 31 } }),
        makeVersion({ version: "1.1.0", metrics: { f1: 0.8 } }),
      ).metrics;
      expect(d).toEqual({ bleu: { a: 31, b: null, delta: null }, f1: { a: null, b: 0.8, delta: null } });
    });

    it("unchanged metrics are left out, zero included", () => {
      const d = diffVersions(
        makeVersion({ version: "1.0.0", metrics: { accuracy: 0.9, errors: 0, gain: -0 } }),
        makeVersion({ version: "1.1.0", metrics: { accuracy: 0.9, errors: 0, gain: 0 } }),
      );
      expect(d.metrics).toEqual({});
    });

    it("NaN and infinities are compared faithfully: NaN to NaN is no change, NaN to a number is", () => {
      const d = diffVersions(
        makeVersion({
          version: "1.0.0",
          metrics: {
            still_diverged: Number.NaN,
            recovered: Number.NaN,
            ppl: Number.POSITIVE_INFINITY,
            loss: 1,
          },
        }),
        makeVersion({
          version: "1.1.0",
          metrics: {
            still_diverged: Number.NaN,
            recovered: 2.5,
            ppl: Number.POSITIVE_INFINITY,
            loss: Number.NaN,
          },
        }),
      ).metrics;
      expect(Object.keys(d)).toEqual(["loss", "recovered"]);
      expect(d["recovered"]?.a).toBeNaN();
      expect(d["recovered"]?.b).toBe(2.5);
      expect(d["recovered"]?.delta).toBeNaN();
      expect(d["loss"]?.a).toBe(1);
      expect(d["loss"]?.b).toBeNaN();
    });

    it("metrics are listed in name order", () => {
      const d = diffVersions(
        makeVersion({ version: "1.0.0", metrics: { zeta: 1, alpha: 1 } }),
        makeVersion({ version: "1.1.0", metrics: { mid: 1, zeta: 2, alpha: 2 } }),
      ).metrics;
      expect(Object.keys(d)).toEqual(["alpha", "mid", "zeta"]);
    });
  });

  it("data refs only in the newer version are added; only in the older, removed", () => {
    const d = diffVersions(
      makeVersion({ version: "1.0.0", data: ["imagenet@1.0.0", "labels@2.0.0"] }),
      makeVersion({ version: "1.1.0", data: ["imagenet@1.1.0", "labels@2.0.0"] }),
    ).data;
    expect(d).toEqual({ added: ["imagenet@1.1.0"], removed: ["imagenet@1.0.0"] });
  });

  describe("code", () => {
    const diffCode = (a: CodeInfo | null, b: CodeInfo | null) =>
      diffVersions(makeVersion({ version: "1.0.0", code: a }), makeVersion({ version: "1.1.0", code: b }))
        .code;

    it("the same clean commit is no change", () => {
      expect(diffCode(code(), code()).changed).toBe(false);
      expect(diffCode(null, null).changed).toBe(false);
    });

    it("a new commit, branch, remote or dirty flag is a change, and both sides are summarised", () => {
      const d = diffCode(code(), code({ commit: "9".repeat(40) }));
      expect(d.changed).toBe(true);
      expect(d.a?.commit).toBe(code().commit);
      expect(d.b).toEqual({ commit: "9".repeat(40), branch: "main", remote: code().remote, dirty: false });
      expect(diffCode(code(), code({ branch: "exp/lr" })).changed).toBe(true);
      expect(diffCode(code(), code({ remote: "https://example.com/fork.git" })).changed).toBe(true);
      expect(diffCode(code(), code({ dirty: true, patch: SHA_A })).changed).toBe(true);
    });

    it("the same dirty commit with a different uncommitted patch is a change", () => {
      expect(diffCode(code({ dirty: true, patch: SHA_A }), code({ dirty: true, patch: SHA_B })).changed).toBe(
        true,
      );
      expect(diffCode(code({ dirty: true, patch: SHA_A }), code({ dirty: true, patch: SHA_A })).changed).toBe(
        false,
      );
    });

    it("code known on one side only is a change", () => {
      const d = diffCode(null, code());
      expect(d.changed).toBe(true);
      expect(d.a).toBeNull();
    });
  });
});
