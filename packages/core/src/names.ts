/**
 * @module What counts as a valid artifact name, alias name, tag and metric: checked once here for every entry point.
 */
import semver from "semver";
import { invalid } from "./errors.js";
import type { Json, JsonObject } from "./types.js";

const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
// Aliases are lower-case words so they can never be mistaken for a version or a range in a ref.
const ALIAS_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
const TAG_KEY = /^[A-Za-z0-9_.:/-]{1,128}$/;
const METRIC_KEY = /^[A-Za-z0-9_.:/-]{1,250}$/;
const MAX_TAG_VALUE = 4096;

/** Words a ref gives its own meaning to, so they cannot name an alias. */
export const RESERVED_ALIASES: ReadonlySet<string> = new Set(["latest"]);

export function checkArtifactName(name: string): string {
  if (!ARTIFACT_NAME.test(name) || name.includes("..")) {
    throw invalid(`invalid artifact name ${JSON.stringify(name)}`, {
      hint: "use letters, digits, '.', '_' and '-' (at most 100 characters), starting with a letter or digit",
    });
  }
  return name;
}

export function checkAliasName(alias: string): string {
  // `x` or `v1` would read as semver ranges in a ref, so they cannot be aliases.
  if (!ALIAS_NAME.test(alias) || RESERVED_ALIASES.has(alias) || semver.validRange(alias) !== null) {
    throw invalid(`invalid alias name ${JSON.stringify(alias)}`, {
      hint: "aliases are lower-case words such as production or staging; 'latest' is reserved",
    });
  }
  return alias;
}

export function checkTags(tags: Record<string, string>): Record<string, string> {
  for (const [key, value] of Object.entries(tags)) {
    if (!TAG_KEY.test(key)) throw invalid(`invalid tag key ${JSON.stringify(key)}`);
    if (typeof value !== "string") throw invalid(`tag ${key} must be a string`);
    if (value.length > MAX_TAG_VALUE) throw invalid(`tag ${key} is longer than ${MAX_TAG_VALUE} characters`);
  }
  return tags;
}

/** Metrics are numbers; NaN and ±Infinity are kept as they are, since a diverged run is worth recording. */
export function checkMetrics(metrics: Record<string, unknown>): Record<string, number> {
  for (const [key, value] of Object.entries(metrics)) {
    if (!METRIC_KEY.test(key)) throw invalid(`invalid metric name ${JSON.stringify(key)}`);
    if (typeof value !== "number")
      throw invalid(`metric ${key} must be a number, got ${JSON.stringify(value)}`);
  }
  return metrics as Record<string, number>;
}

export function checkParams(params: unknown): JsonObject {
  if (params === null || typeof params !== "object" || Array.isArray(params)) {
    throw invalid("params must be a JSON object");
  }
  return params as JsonObject;
}

/**
 * Parses `K=V` pairs from the command line. The value is read as JSON when it is a number, boolean or null
 * (`lr=0.01` is a number), otherwise kept as a string.
 */
export function parseKeyValue(pair: string, what: string): [string, string] {
  const at = pair.indexOf("=");
  if (at <= 0) throw invalid(`expected ${what} as KEY=VALUE, got ${JSON.stringify(pair)}`);
  return [pair.slice(0, at), pair.slice(at + 1)];
}

export function parseScalar(text: string): Json {
  const trimmed = text.trim();
  if (trimmed === "true") return true;
  if (trimmed === "false") return false;
  if (trimmed === "null") return null;
  // No leading zeros: `007` stays a string, so identifiers keep them. `.5` and `+3` are numbers.
  if (/^[-+]?((0|[1-9]\d*)(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(trimmed)) return Number(trimmed);
  return text;
}

/** Like `parseScalar` but a metric must be a number; NaN, Infinity and -Infinity are accepted by name. */
export function parseMetricValue(key: string, text: string): number {
  const t = text.trim();
  if (t === "NaN" || t === "nan") return Number.NaN;
  if (/^\+?(inf|Infinity)$/i.test(t)) return Number.POSITIVE_INFINITY;
  if (/^-(inf|Infinity)$/i.test(t)) return Number.NEGATIVE_INFINITY;
  const value = parseScalar(t);
  if (typeof value !== "number") throw invalid(`metric ${key} must be a number, got ${JSON.stringify(text)}`);
  return value;
}
