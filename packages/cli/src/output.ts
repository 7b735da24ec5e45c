/**
 * @module How the CLI speaks: JSON for scripts (`--json`), aligned text for people, errors on stderr with a
 * stable code. One place, so every command prints the same way.
 */
import type { CairnError } from "@cairn/core";

export interface Output {
  json: boolean;
  /** Human text to stdout (suppressed in --json mode). */
  line(text?: string): void;
  /** The command's result: JSON in --json mode, else rendered by `human`. */
  result(value: unknown, human: () => string | string[]): void;
  /** Notes for the person (stderr), never mixed into stdout. */
  note(text: string): void;
}

/** JSON cannot carry NaN or ±Infinity; cairn writes them as the strings "NaN", "Infinity", "-Infinity". */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v),
    2,
  );
}

export function createOutput(json: boolean): Output {
  return {
    json,
    line(text = "") {
      if (!json) process.stdout.write(`${text}\n`);
    },
    result(value, human) {
      if (json) {
        process.stdout.write(`${toJson(value)}\n`);
        return;
      }
      const text = human();
      const lines = Array.isArray(text) ? text : [text];
      if (lines.length > 0) process.stdout.write(`${lines.join("\n")}\n`);
    },
    note(text) {
      process.stderr.write(`${text}\n`);
    },
  };
}

const useColour = (): boolean =>
  !("NO_COLOR" in process.env) && process.stderr.isTTY === true && process.env["TERM"] !== "dumb";

export function printError(error: CairnError, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`);
    return;
  }
  const label = useColour() ? "\u001b[31merror\u001b[0m" : "error";
  process.stderr.write(`${label}: ${error.message}\n`);
  if (error.hint) process.stderr.write(`hint: ${error.hint}\n`);
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

/** Left-aligned columns with two spaces between them. */
export function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const render = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [render(headers), ...rows.map(render)];
}

export function formatTime(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
}
