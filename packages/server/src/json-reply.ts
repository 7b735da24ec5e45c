/**
 * @module How answers become JSON: JSON.stringify, with NaN and ±Infinity (which JSON cannot carry) written as
 * "NaN", "Infinity", "-Infinity", as the CLI's --json does.
 */
const nonFiniteAsString = (_key: string, value: unknown): unknown =>
  typeof value === "number" && !Number.isFinite(value) ? String(value) : value;

export const serialize = (payload: unknown): string => JSON.stringify(payload, nonFiniteAsString);
