/**
 * @module Reading params, metrics and tags from the command line and from JSON or YAML files.
 */
import { readFile } from "node:fs/promises";
import {
  checkMetrics,
  checkParams,
  invalid,
  type Json,
  type JsonObject,
  parseKeyValue,
  parseMetricValue,
  parseScalar,
} from "@cairn/core";

/** Reads a JSON or YAML file into a value; the error names the file and the line where parsing failed. */
export async function readStructuredFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw invalid(`cannot read ${path}`);
  }
  if (/\.json$/i.test(path)) {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw invalid(`${path} is not valid JSON: ${(error as Error).message}`);
    }
  }
  const YAML = await import("yaml");
  try {
    // YAML is a superset of JSON, so this also reads JSON files with other extensions.
    return YAML.parse(text);
  } catch (error) {
    throw invalid(`${path} is not valid JSON or YAML: ${(error as Error).message.split("\n")[0]}`);
  }
}

export async function readParams(file: string | undefined, pairs: string[] = []): Promise<JsonObject> {
  const params: JsonObject = file ? checkParams(await readStructuredFile(file)) : {};
  for (const pair of pairs) {
    const [key, value] = parseKeyValue(pair, "--param");
    params[key] = parseScalar(value);
  }
  return params;
}

/** Metrics files may be flat (`{"acc": 0.9}`) or nested (`{"eval": {"acc": 0.9}}`, read as `eval.acc`). */
export async function readMetrics(
  file: string | undefined,
  pairs: string[] = [],
): Promise<Record<string, number>> {
  const metrics: Record<string, number> = {};
  if (file) {
    const value = await readStructuredFile(file);
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw invalid(`${file} must hold an object of metric names to numbers`);
    }
    flattenMetrics(value as Record<string, Json>, "", metrics);
  }
  for (const pair of pairs) {
    const [key, value] = parseKeyValue(pair, "--metric");
    metrics[key] = parseMetricValue(key, value);
  }
  return checkMetrics(metrics);
}

function flattenMetrics(value: Record<string, Json>, prefix: string, into: Record<string, number>): void {
  for (const [key, v] of Object.entries(value)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) flattenMetrics(v, name, into);
    else if (typeof v === "string") into[name] = parseMetricValue(name, v);
    else if (typeof v === "number") into[name] = v;
    else throw invalid(`metric ${name} must be a number, got ${JSON.stringify(v)}`);
  }
}

export function readTags(pairs: string[] = []): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const pair of pairs) {
    const [key, value] = parseKeyValue(pair, "a tag");
    tags[key] = value;
  }
  return tags;
}

export async function readNotes(
  message: string | undefined,
  file: string | undefined,
): Promise<string | undefined> {
  if (message !== undefined && file !== undefined)
    throw invalid("give notes with -m or --notes FILE, not both");
  if (file !== undefined) {
    try {
      return await readFile(file, "utf8");
    } catch {
      throw invalid(`cannot read notes file ${file}`);
    }
  }
  return message;
}
