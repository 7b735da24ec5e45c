import {
  checkVersion,
  compareVersions,
  FIRST_VERSION,
  highestVersion,
  isBump,
  nextVersion,
} from "@cairn/core";
import { describe, expect, it } from "vitest";
import { caught } from "./helpers.js";

describe("the version a push gets", () => {
  it("the first push of an artifact is 0.1.0", () => {
    expect(FIRST_VERSION).toBe("0.1.0");
    expect(nextVersion([])).toBe("0.1.0");
    expect(nextVersion([], "major")).toBe("0.1.0");
  });

  it("a later push bumps minor from the highest version", () => {
    expect(nextVersion(["0.1.0"])).toBe("0.2.0");
    expect(nextVersion(["0.1.0", "0.2.0", "0.3.0"])).toBe("0.4.0");
  });

  it("bumps from the highest version, not from the one pushed last", () => {
    // 1.0.1 is a hotfix pushed after 2.0.0: the next release still follows 2.0.0.
    expect(nextVersion(["1.0.0", "2.0.0", "1.0.1"])).toBe("2.1.0");
    expect(nextVersion(["1.10.0", "1.9.0"])).toBe("1.11.0");
  });

  it("major and patch bumps reset the lower parts as semver says", () => {
    expect(nextVersion(["1.4.2"], "major")).toBe("2.0.0");
    expect(nextVersion(["1.4.2"], "minor")).toBe("1.5.0");
    expect(nextVersion(["1.4.2"], "patch")).toBe("1.4.3");
  });

  it("a prerelease bump starts an rc series on the next patch, then counts rc.2, rc.3", () => {
    expect(nextVersion(["1.0.0"], "prerelease")).toBe("1.0.1-rc.1");
    expect(nextVersion(["1.0.0", "1.0.1-rc.1"], "prerelease")).toBe("1.0.1-rc.2");
    expect(nextVersion(["1.0.0", "1.0.1-rc.1", "1.0.1-rc.2"], "prerelease")).toBe("1.0.1-rc.3");
  });

  it("the first push as a prerelease is 0.1.0-rc.1", () => {
    expect(nextVersion([], "prerelease")).toBe("0.1.0-rc.1");
  });

  it("a plain push after release candidates releases the version they were candidates for", () => {
    expect(nextVersion(["1.0.0", "2.0.0-rc.2"])).toBe("2.0.0");
    expect(nextVersion(["1.0.0", "2.0.0-rc.2"], "major")).toBe("2.0.0");
  });

  it("knows the four bumps and nothing else", () => {
    for (const bump of ["major", "minor", "patch", "prerelease"]) expect(isBump(bump)).toBe(true);
    for (const word of ["premajor", "Minor", "", "latest"]) expect(isBump(word)).toBe(false);
  });
});

describe("version ordering", () => {
  it("orders prereleases before their release, and numeric parts as numbers", () => {
    const pushed = [
      "1.0.0",
      "1.0.0-rc.10",
      "1.0.0-alpha",
      "1.0.0-rc.2",
      "0.9.0",
      "1.0.0-beta",
      "1.0.0-alpha.1",
    ];
    expect([...pushed].sort(compareVersions)).toEqual([
      "0.9.0",
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-beta",
      "1.0.0-rc.2",
      "1.0.0-rc.10",
      "1.0.0",
    ]);
  });

  it("the highest version counts prereleases, by precedence rather than by string", () => {
    expect(highestVersion(["1.2.0", "1.10.0", "1.9.0"])).toBe("1.10.0");
    expect(highestVersion(["1.0.0", "2.0.0-rc.1"])).toBe("2.0.0-rc.1");
    expect(highestVersion(["2.0.0-rc.1", "2.0.0"])).toBe("2.0.0");
    expect(highestVersion([])).toBeNull();
  });
});

describe("what counts as a version", () => {
  it("accepts semver 2.0 with prerelease and build metadata, unchanged", () => {
    expect(checkVersion("1.2.3")).toBe("1.2.3");
    expect(checkVersion("2.0.0-rc.1")).toBe("2.0.0-rc.1");
    expect(checkVersion("1.0.0-rc.1+build.7")).toBe("1.0.0-rc.1+build.7");
  });

  it("accepts a leading v and stores the version without it", () => {
    expect(checkVersion("v1.2.3")).toBe("1.2.3");
    expect(checkVersion("v2.0.0-rc.1")).toBe("2.0.0-rc.1");
  });

  it.each([
    "1.2",
    "1",
    "01.2.3",
    "1.2.3.4",
    "latest",
    "",
    "v",
    "V1.2.3",
    "vv1.2.3",
    " 1.2.3",
    "1.2.3 ",
    "=1.2.3",
    "1.0.0-rc.01",
  ])("refuses %j as INVALID, with a hint on how to write one", (text) => {
    const error = caught("INVALID", () => checkVersion(text));
    expect(error.message).toContain(JSON.stringify(text));
    expect(error.hint).toMatch(/MAJOR\.MINOR\.PATCH/);
  });
});
