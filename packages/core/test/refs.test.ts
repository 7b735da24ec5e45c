import {
  type Alias,
  type Artifact,
  exactRef,
  type MetadataStore,
  parseRef,
  resolveRef,
  type Version,
  type VersionSummary,
} from "@cairn/core";
import { describe, expect, it } from "vitest";
import { caught, makeVersion, rejected } from "./helpers.js";

describe("parsing a ref", () => {
  it("name@1.2.0 names an exact version", () => {
    expect(parseRef("resnet@1.2.0")).toEqual({
      name: "resnet",
      selector: { kind: "version", version: "1.2.0" },
      text: "resnet@1.2.0",
    });
  });

  it("an exact version may carry a prerelease, or a leading v that is dropped", () => {
    expect(parseRef("resnet@2.0.0-rc.1").selector).toEqual({ kind: "version", version: "2.0.0-rc.1" });
    expect(parseRef("resnet@v1.2.0").selector).toEqual({ kind: "version", version: "1.2.0" });
    expect(parseRef("resnet@v1.2.0").text).toBe("resnet@v1.2.0");
  });

  it("name@production names an alias", () => {
    expect(parseRef("resnet@production").selector).toEqual({ kind: "alias", alias: "production" });
    expect(parseRef("resnet@champion-2").selector).toEqual({ kind: "alias", alias: "champion-2" });
  });

  it("name@latest and a bare name both mean the latest release", () => {
    expect(parseRef("resnet@latest")).toEqual({
      name: "resnet",
      selector: { kind: "latest" },
      text: "resnet@latest",
    });
    expect(parseRef("resnet")).toEqual({ name: "resnet", selector: { kind: "latest" }, text: "resnet" });
  });

  it("name@^1.2, name@1.2 and other semver ranges name the highest match", () => {
    expect(parseRef("resnet@^1.2").selector).toEqual({ kind: "range", range: "^1.2" });
    expect(parseRef("resnet@1.2").selector).toEqual({ kind: "range", range: "1.2" });
    expect(parseRef("resnet@~1.2.3").selector).toEqual({ kind: "range", range: "~1.2.3" });
    expect(parseRef("resnet@>=1 <2").selector).toEqual({ kind: "range", range: ">=1 <2" });
  });

  it("name#3 names the third version pushed", () => {
    expect(parseRef("resnet#3")).toEqual({
      name: "resnet",
      selector: { kind: "seq", seq: 3 },
      text: "resnet#3",
    });
  });

  it("artifact names with dots, dashes and underscores parse whole", () => {
    expect(parseRef("bert-base_v2.onnx@1.0.0").name).toBe("bert-base_v2.onnx");
    expect(parseRef("bert-base_v2.onnx#12").name).toBe("bert-base_v2.onnx");
  });

  it.each([
    ["resnet#0", "sequence numbers start at 1"],
    ["resnet#01", "no leading zeros"],
    ["resnet#", "no number"],
    ["resnet#3x", "not a number"],
    ["resnet@Production", "aliases are lower case"],
    ["resnet@1.2.3@4", "two @"],
    ["resnet@prod#3", "# after @"],
    ["resnet@!!", "neither version, alias nor range"],
    ["resnet@production ", "trailing space"],
  ])("refuses %j (%s) as INVALID, with a hint showing the forms", (text) => {
    const error = caught("INVALID", () => parseRef(text));
    expect(error.message).toContain(JSON.stringify(text));
    expect(error.hint).toMatch(/name@1\.2\.0.*name#3/);
  });

  it.each(["@1.0.0", "#2", "../etc@1.0.0", "my model@1.0.0", "-resnet"])(
    "refuses the bad artifact name in %j as INVALID, with a hint on naming",
    (text) => {
      const error = caught("INVALID", () => parseRef(text));
      expect(error.message).toMatch(/artifact name/);
      expect(error.hint).toMatch(/letters, digits/);
    },
  );

  it("an exact ref is name@version, and parses back to the same version", () => {
    expect(exactRef("resnet", "1.2.0")).toBe("resnet@1.2.0");
    expect(parseRef(exactRef("resnet", "2.0.0-rc.1")).selector).toEqual({
      kind: "version",
      version: "2.0.0-rc.1",
    });
  });
});

interface FakeArtifact {
  /** Versions in the order they were pushed (so seq is position + 1). */
  versions: string[];
  aliases?: Record<string, string>;
}

/** Just enough of a metadata store for resolveRef, over plain data. */
function fakeStore(artifacts: Record<string, FakeArtifact>): MetadataStore {
  const versionsOf = (name: string): Version[] =>
    (artifacts[name]?.versions ?? []).map((version, i) =>
      makeVersion({ artifact: name, version, seq: i + 1 }),
    );
  const store: Pick<
    MetadataStore,
    "kind" | "getArtifact" | "getVersion" | "getVersionBySeq" | "listVersions" | "getAlias"
  > = {
    kind: "fake",
    async getArtifact(name): Promise<Artifact | null> {
      return artifacts[name] ? { name, type: "model", createdAt: "2024-03-01T12:00:00.000Z" } : null;
    },
    async getVersion(name, version) {
      return versionsOf(name).find((v) => v.version === version) ?? null;
    },
    async getVersionBySeq(name, seq) {
      return versionsOf(name).find((v) => v.seq === seq) ?? null;
    },
    async listVersions(name): Promise<VersionSummary[]> {
      return versionsOf(name).map((v) => ({
        artifact: v.artifact,
        version: v.version,
        seq: v.seq,
        createdAt: v.createdAt,
        size: 0,
        fileCount: 0,
        metrics: {},
        aliases: [],
      }));
    },
    async getAlias(name, alias): Promise<Alias | null> {
      const version = artifacts[name]?.aliases?.[alias];
      return version === undefined
        ? null
        : { artifact: name, alias, version, protected: false, updatedAt: "2024-03-01T12:00:00.000Z" };
    },
  };
  return store as MetadataStore;
}

describe("resolving a ref", () => {
  // Pushed in this order: a hotfix 1.2.1 lands after the 2.0 release candidate, and 0.9.0 was imported late.
  const store = fakeStore({
    resnet: {
      versions: ["1.0.0", "1.1.0", "1.2.0", "2.0.0-rc.1", "1.2.1", "0.9.0"],
      aliases: { production: "1.1.0", staging: "2.0.0-rc.1" },
    },
    llm: { versions: ["1.0.0-rc.1", "1.0.0-rc.2"] },
  });
  const resolve = async (ref: string) => (await resolveRef(store, ref)).version;

  it("latest is the highest release, ignoring prereleases and push order", async () => {
    expect(await resolve("resnet@latest")).toBe("1.2.1");
    expect(await resolve("resnet")).toBe("1.2.1");
  });

  it("an exact version resolves to that version, prerelease or not", async () => {
    expect(await resolve("resnet@1.0.0")).toBe("1.0.0");
    expect(await resolve("resnet@v1.2.0")).toBe("1.2.0");
    expect(await resolve("resnet@2.0.0-rc.1")).toBe("2.0.0-rc.1");
  });

  it("an alias resolves to the version it points at", async () => {
    const version = await resolveRef(store, "resnet@production");
    expect(version.version).toBe("1.1.0");
    expect(version.artifact).toBe("resnet");
    expect(await resolve("resnet@staging")).toBe("2.0.0-rc.1");
  });

  it("a range picks the highest matching release", async () => {
    expect(await resolve("resnet@^1.1")).toBe("1.2.1");
    expect(await resolve("resnet@1.1")).toBe("1.1.0");
    expect(await resolve("resnet@~1.2.0")).toBe("1.2.1");
    expect(await resolve("resnet@<1.2.0")).toBe("1.1.0");
    expect(await resolve("resnet@*")).toBe("1.2.1");
  });

  it("a range picks a prerelease only when it asks for one", async () => {
    expect(await resolve("resnet@>=2.0.0-0")).toBe("2.0.0-rc.1");
    // ^2 means 2.x releases; the only 2.x is a release candidate, so there is nothing to give.
    await rejected("NOT_FOUND", resolveRef(store, "resnet@^2"));
  });

  it("#N resolves by push order", async () => {
    expect(await resolve("resnet#1")).toBe("1.0.0");
    expect(await resolve("resnet#4")).toBe("2.0.0-rc.1");
    expect(await resolve("resnet#6")).toBe("0.9.0");
  });

  it("accepts a ref already parsed", async () => {
    expect((await resolveRef(store, parseRef("resnet@production"))).version).toBe("1.1.0");
  });

  it("an unknown artifact is NOT_FOUND, naming it", async () => {
    const error = await rejected("NOT_FOUND", resolveRef(store, "vit@1.0.0"));
    expect(error.message).toBe("no artifact named vit");
    expect(error.hint).toMatch(/cairn list/);
  });

  it("an unknown alias is NOT_FOUND, naming the alias", async () => {
    const error = await rejected("NOT_FOUND", resolveRef(store, "resnet@canary"));
    expect(error.message).toBe("resnet has no alias canary");
    expect(error.hint).toMatch(/cairn list resnet/);
  });

  it("an unknown version or sequence number is NOT_FOUND", async () => {
    expect((await rejected("NOT_FOUND", resolveRef(store, "resnet@9.9.9"))).message).toContain(
      "resnet@9.9.9",
    );
    expect((await rejected("NOT_FOUND", resolveRef(store, "resnet#7"))).message).toContain("resnet#7");
  });

  it("a range nothing matches is NOT_FOUND, naming the range", async () => {
    const error = await rejected("NOT_FOUND", resolveRef(store, "resnet@^3"));
    expect(error.message).toBe("no version of resnet matches ^3");
  });

  it("latest of an artifact with only prereleases is NOT_FOUND and says why", async () => {
    const error = await rejected("NOT_FOUND", resolveRef(store, "llm"));
    expect(error.message).toMatch(/only prereleases/);
    expect(await resolve("llm@1.0.0-rc.2")).toBe("1.0.0-rc.2");
  });

  it("a malformed ref is INVALID before the store is asked", async () => {
    await rejected("INVALID", resolveRef(store, "resnet@!!"));
  });
});
