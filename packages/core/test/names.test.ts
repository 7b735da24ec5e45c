import {
  checkAliasName,
  checkArtifactName,
  checkMetrics,
  checkParams,
  checkTags,
  parseKeyValue,
  parseMetricValue,
  parseScalar,
  RESERVED_ALIASES,
} from "@cairn/core";
import { describe, expect, it } from "vitest";
import { caught } from "./helpers.js";

describe("artifact names", () => {
  it.each(["resnet", "ResNet50", "bert-base_uncased.v2", "7b", "a".repeat(100)])("accepts %j", (name) => {
    expect(checkArtifactName(name)).toBe(name);
  });

  it.each([
    ["", "empty"],
    ["-resnet", "starts with a dash"],
    [".hidden", "starts with a dot"],
    ["a..b", "contains .."],
    ["org/model", "contains a slash"],
    ["my model", "contains a space"],
    ["resnet@1", "contains @, which starts a ref's version"],
    ["resnet#1", "contains #, which starts a ref's number"],
    ["a".repeat(101), "longer than 100 characters"],
  ])("refuses %j (%s) as INVALID, with a hint", (name) => {
    expect(caught("INVALID", () => checkArtifactName(name)).hint).toMatch(/letters, digits/);
  });
});

describe("alias names", () => {
  it.each(["production", "staging", "champion-2", "ab_test", "a".repeat(63)])("accepts %j", (alias) => {
    expect(checkAliasName(alias)).toBe(alias);
  });

  it.each([
    ["latest", "reserved by refs"],
    ["Production", "upper case"],
    ["1prod", "starts with a digit, like a version"],
    ["prod.1", "contains a dot"],
    ["", "empty"],
    ["a".repeat(64), "longer than 63 characters"],
  ])("refuses %j (%s) as INVALID, with a hint", (alias) => {
    expect(caught("INVALID", () => checkAliasName(alias)).hint).toMatch(/lower-case/);
  });

  it("latest is reserved", () => {
    expect(RESERVED_ALIASES.has("latest")).toBe(true);
  });
});

describe("tags, metrics and params", () => {
  it("tags are short string values under simple keys", () => {
    expect(checkTags({ "team/owner": "vision", "ticket:id": "ML-42" })).toEqual({
      "team/owner": "vision",
      "ticket:id": "ML-42",
    });
    caught("INVALID", () => checkTags({ "has space": "x" }));
    caught("INVALID", () => checkTags({ note: "x".repeat(4097) }));
    caught("INVALID", () => checkTags({ count: 3 } as unknown as Record<string, string>));
    expect(checkTags({ note: "x".repeat(4096) })["note"]).toHaveLength(4096);
  });

  it("metrics must be numbers, and NaN or infinity from a diverged run is kept", () => {
    const metrics = { loss: Number.NaN, ppl: Number.POSITIVE_INFINITY, "val/acc": 0.9 };
    expect(checkMetrics(metrics)).toBe(metrics);
    caught("INVALID", () => checkMetrics({ accuracy: "0.9" }));
    caught("INVALID", () => checkMetrics({ "bad name": 1 }));
  });

  it("params must be a JSON object", () => {
    expect(checkParams({ lr: 0.1 })).toEqual({ lr: 0.1 });
    for (const bad of [null, [1, 2], "lr=0.1", 3]) caught("INVALID", () => checkParams(bad));
  });
});

describe("values from the command line", () => {
  it("KEY=VALUE splits at the first =", () => {
    expect(parseKeyValue("lr=0.01", "a param")).toEqual(["lr", "0.01"]);
    expect(parseKeyValue("expr=a=b", "a param")).toEqual(["expr", "a=b"]);
    expect(parseKeyValue("empty=", "a tag")).toEqual(["empty", ""]);
    expect(caught("INVALID", () => parseKeyValue("=x", "a tag")).message).toMatch(/a tag as KEY=VALUE/);
    caught("INVALID", () => parseKeyValue("novalue", "a param"));
  });

  it.each([
    ["0.01", 0.01],
    ["42", 42],
    ["-3", -3],
    ["+3", 3],
    [".5", 0.5],
    ["1e-4", 0.0001],
    ["2E3", 2000],
    [" 7 ", 7],
    ["true", true],
    ["false", false],
    ["null", null],
  ])("a param %j is read as %j", (text, value) => {
    expect(parseScalar(text)).toBe(value);
  });

  it.each(["adam", "1.2.3", "0x10", "1e", "NaN", "Infinity", "True", "", "v1"])(
    "a param %j stays the string it was",
    (text) => {
      expect(parseScalar(text)).toBe(text);
    },
  );

  it.each([
    ["0.93", 0.93],
    ["12", 12],
    ["-1.5e2", -150],
    ["inf", Number.POSITIVE_INFINITY],
    ["+inf", Number.POSITIVE_INFINITY],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["INF", Number.POSITIVE_INFINITY],
    ["-inf", Number.NEGATIVE_INFINITY],
    ["-Infinity", Number.NEGATIVE_INFINITY],
  ])("a metric %j is read as %d", (text, value) => {
    expect(parseMetricValue("m", text)).toBe(value);
  });

  it("a metric NaN or nan is read as NaN", () => {
    expect(parseMetricValue("loss", "NaN")).toBeNaN();
    expect(parseMetricValue("loss", "nan")).toBeNaN();
  });

  it.each(["high", "true", "null", "", "1.2.3"])(
    "a metric %j is refused as INVALID, naming the metric",
    (text) => {
      expect(caught("INVALID", () => parseMetricValue("accuracy", text)).message).toMatch(/metric accuracy/);
    },
  );
});
