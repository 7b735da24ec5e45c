/**
 * Where a run's data versions sit (`--data REF=PATH`) and the plan `cairn reproduce` follows: refs with semver
 * ranges keep their `=`, paths stay inside the repository and never overlap, and a version takes the data
 * paths and command of the run that made it; the partial folder it builds in names its owner, so only those of
 * dead processes on this host count as left over.
 */
import {
  parseDataInput,
  partialFolderName,
  placeData,
  planReproduction,
  stalePartialFolders,
} from "@cairn/core";
import { describe, expect, it } from "vitest";
import { caught } from "./helpers.js";

const code = { remote: null, branch: "main", commit: "a".repeat(40), dirty: false, patch: null, path: null };

describe("--data REF=PATH", () => {
  it.each([
    ["imdb@2.1.0", { ref: "imdb@2.1.0" }],
    ["imdb@2.1.0=corpora/imdb", { ref: "imdb@2.1.0", path: "corpora/imdb" }],
    ["imdb@production=data/a=b", { ref: "imdb@production", path: "data/a=b" }],
    ["imdb@>=2.0", { ref: "imdb@>=2.0" }],
    ["imdb@>=2.0 <3=corpora/imdb", { ref: "imdb@>=2.0 <3", path: "corpora/imdb" }],
    ["imdb@=2.1.0=x", { ref: "imdb@=2.1.0", path: "x" }],
    ["imdb#3=x", { ref: "imdb#3", path: "x" }],
  ])("%j reads as %j", (text, expected) => {
    expect(parseDataInput(text)).toEqual(expected);
  });

  it("places each version at its path or data/NAME, refusing overlaps and paths out of the repository", () => {
    expect(placeData([{ ref: "imdb@1.0.0", path: "./corpora//imdb/" }, { ref: "squad@2.0.0" }])).toEqual({
      "imdb@1.0.0": "corpora/imdb",
      "squad@2.0.0": "data/squad",
    });
    for (const bad of [
      [
        { ref: "a@1.0.0", path: "d" },
        { ref: "b@1.0.0", path: "d/b" },
      ],
      [{ ref: "a@1.0.0" }, { ref: "a@2.0.0" }],
      [{ ref: "a@1.0.0", path: "../up" }],
      [{ ref: "a@1.0.0", path: "/abs" }],
      [{ ref: "a@1.0.0", path: ".git/hooks" }],
    ]) {
      caught("INVALID", () => placeData(bad));
    }
  });
});

describe("the reproduction plan", () => {
  const run = {
    id: "01j8z3k4m5n6p7q8",
    code,
    data: ["imdb@1.0.0"],
    dataPaths: { "imdb@1.0.0": "corpora/imdb" },
    params: { lr: 0.1 },
    command: "python train.py",
  };

  it("takes a version's own code, data and params, and its run's data paths and command", () => {
    const version = {
      name: "clf",
      version: "1.0.0",
      code: { ...code, commit: "b".repeat(40) },
      data: ["imdb@1.0.0", "squad@1.0.0"],
      params: { lr: 0.1, epochs: 3 },
      run: run.id,
    };
    expect(planReproduction({ version, run })).toEqual({
      source: "clf@1.0.0",
      code: version.code,
      data: [
        { ref: "imdb@1.0.0", path: "corpora/imdb" },
        { ref: "squad@1.0.0", path: "data/squad" },
      ],
      params: { lr: 0.1, epochs: 3 },
      command: "python train.py",
      run: run.id,
    });
    expect(planReproduction({ run }).source).toBe(`run:${run.id}`);
  });

  it("refuses what records no code: NOT_FOUND", () => {
    caught("NOT_FOUND", () => planReproduction({ run: { ...run, code: null } }));
  });
});

describe("partial folders left by a killed reproduce", () => {
  const here = { host: "gpu-node-7.lab", isProcessAlive: (pid: number) => pid === 4242 };

  it("are those made on this host by a process that no longer runs", () => {
    const dead = partialFolderName("repro", { host: "gpu-node-7.lab", pid: 17 }, "0a1b2c3d");
    const live = partialFolderName("repro", { host: "gpu-node-7.lab", pid: 4242 }, "0a1b2c3d");
    const elsewhere = partialFolderName("repro", { host: "gpu-node-8.lab", pid: 17 }, "0a1b2c3d");
    const names = [
      dead,
      live,
      elsewhere,
      "repro",
      ".repro.cairn-partial-0a1b2c3d",
      ".0a1b2c3d4e5f.cairn-partial",
    ];
    expect(stalePartialFolders(names, here)).toEqual([dead]);
    expect(dead).toBe(".repro.cairn-partial-gpu-node-7.lab-17-0a1b2c3d");
  });

  it("name a host whose name cannot sit in a folder name in a form that still matches it", () => {
    const odd = { host: "lab/node 7", isProcessAlive: () => false };
    const name = partialFolderName("my-model-1.0.0", { host: odd.host, pid: 99 }, "ffff0000");
    expect(name).not.toContain("/");
    expect(stalePartialFolders([name], odd)).toEqual([name]);
  });
});
