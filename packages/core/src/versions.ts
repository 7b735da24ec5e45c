/**
 * @module Semver rules for versions: what a valid version is, and which version a push gets.
 */
import semver from "semver";
import { invalid } from "./errors.js";

export const BUMPS = ["major", "minor", "patch", "prerelease"] as const;
export type Bump = (typeof BUMPS)[number];

/** The version an artifact's first push gets when none is given. */
export const FIRST_VERSION = "0.1.0";

/** Accepts a semver 2.0 string (a leading `v` is dropped) and returns it in canonical form. */
export function checkVersion(text: string): string {
  const stripped = text.startsWith("v") ? text.slice(1) : text;
  const parsed = semver.parse(stripped);
  const canonical = parsed && parsed.version + (parsed.build.length > 0 ? `+${parsed.build.join(".")}` : "");
  // semver.parse trims spaces and takes a further `v` (and keeps `raw` as given), so only an exact match with
  // the canonical form proves the text was a plain semver string.
  if (!canonical || canonical !== stripped) {
    throw invalid(`invalid version ${JSON.stringify(text)}: not a semver 2.0 version`, {
      hint: "write MAJOR.MINOR.PATCH, optionally with a prerelease such as 2.0.0-rc.1",
    });
  }
  return canonical;
}

export function isBump(text: string): text is Bump {
  return (BUMPS as readonly string[]).includes(text);
}

/** Highest version by semver precedence, prereleases included. */
export function highestVersion(versions: readonly string[]): string | null {
  let best: string | null = null;
  for (const v of versions) if (best === null || semver.gt(v, best)) best = v;
  return best;
}

/**
 * The next version after the existing ones. Without a bump: the first push is 0.1.0 and later pushes
 * bump minor from the highest version. A prerelease bump starts or continues an `rc` series.
 */
export function nextVersion(existing: readonly string[], bump: Bump = "minor"): string {
  const highest = highestVersion(existing);
  if (highest === null) return bump === "prerelease" ? `${FIRST_VERSION}-rc.1` : FIRST_VERSION;
  const next =
    bump === "prerelease" ? semver.inc(highest, "prerelease", "rc", "1") : semver.inc(highest, bump);
  if (next === null) throw invalid(`cannot bump ${bump} from ${highest}`);
  return next;
}

export function compareVersions(a: string, b: string): number {
  return semver.compare(a, b);
}
