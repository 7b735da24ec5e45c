/**
 * @module Refs name a version: `name@1.4.2`, `name@production`, `name@latest`, `name@^1.4`, `name#7`, or a
 * bare `name` (its latest release). Parsing is pure; resolving asks the metadata store.
 */
import semver from "semver";
import { invalid, notFound } from "./errors.js";
import { checkAliasName, checkArtifactName } from "./names.js";
import type { MetadataStore } from "./ports/metadata.js";
import type { Version } from "./types.js";
import { checkVersion } from "./versions.js";

export type RefSelector =
  | { kind: "version"; version: string }
  | { kind: "alias"; alias: string }
  | { kind: "latest" }
  | { kind: "range"; range: string }
  | { kind: "seq"; seq: number };

export interface Ref {
  name: string;
  selector: RefSelector;
  /** The ref as the user wrote it, for messages. */
  text: string;
}

const REF_HINT = "write name@1.2.0, name@production, name@latest, name@^1.2 or name#3";

export function parseRef(text: string): Ref {
  const hash = text.indexOf("#");
  const at = text.indexOf("@");
  if (hash >= 0 && (at < 0 || hash < at)) {
    const name = checkArtifactName(text.slice(0, hash));
    const seqText = text.slice(hash + 1);
    if (!/^[1-9]\d{0,9}$/.test(seqText))
      throw invalid(`invalid ref ${JSON.stringify(text)}: #N needs a number ≥ 1`, { hint: REF_HINT });
    return { name, selector: { kind: "seq", seq: Number(seqText) }, text };
  }
  if (at < 0) return { name: checkArtifactName(text), selector: { kind: "latest" }, text };
  const name = checkArtifactName(text.slice(0, at));
  const spec = text.slice(at + 1);
  if (spec === "" || spec === "latest") return { name, selector: { kind: "latest" }, text };
  if (/^[a-z][a-z0-9_-]*$/.test(spec) && semver.validRange(spec) === null)
    return { name, selector: { kind: "alias", alias: checkAliasName(spec) }, text };
  if (semver.valid(spec.replace(/^v/, "")))
    return { name, selector: { kind: "version", version: checkVersion(spec) }, text };
  const range = semver.validRange(spec);
  if (range !== null) return { name, selector: { kind: "range", range: spec }, text };
  throw invalid(`invalid ref ${JSON.stringify(text)}`, { hint: REF_HINT });
}

/** The exact form of a version's ref, as stored in lineage links. */
export function exactRef(artifact: string, version: string): string {
  return `${artifact}@${version}`;
}

const noArtifact = (name: string) => notFound(`no artifact named ${name}`, { hint: "see `cairn list`" });
const noAlias = (name: string, alias: string) =>
  notFound(`${name} has no alias ${alias}`, { hint: `see \`cairn list ${name}\`` });

/** Finds the version a ref names, or throws NOT_FOUND saying which part was missing. */
export async function resolveRef(meta: MetadataStore, refOrText: Ref | string): Promise<Version> {
  const ref = typeof refOrText === "string" ? parseRef(refOrText) : refOrText;
  const sel = ref.selector;
  if (sel.kind === "alias" && meta.resolveAlias) {
    const found = await meta.resolveAlias(ref.name, sel.alias);
    if (found === "no-artifact") throw noArtifact(ref.name);
    if (found === "no-alias") throw noAlias(ref.name, sel.alias);
    return found;
  }
  const artifact = await meta.getArtifact(ref.name);
  if (!artifact) throw noArtifact(ref.name);
  let version: Version | null = null;
  switch (sel.kind) {
    case "version":
      version = await meta.getVersion(ref.name, sel.version);
      break;
    case "seq":
      version = await meta.getVersionBySeq(ref.name, sel.seq);
      break;
    case "alias": {
      const alias = await meta.getAlias(ref.name, sel.alias);
      if (!alias) throw noAlias(ref.name, sel.alias);
      version = await meta.getVersion(ref.name, alias.version);
      break;
    }
    case "latest":
    case "range": {
      const all = (await meta.listVersions(ref.name)).map((v) => v.version);
      const best = semver.maxSatisfying(all, sel.kind === "latest" ? "*" : sel.range);
      if (best === null) {
        throw notFound(
          sel.kind === "latest"
            ? `${ref.name} has no release version (only prereleases)`
            : `no version of ${ref.name} matches ${sel.range}`,
        );
      }
      version = await meta.getVersion(ref.name, best);
      break;
    }
  }
  if (!version) throw notFound(`no version ${ref.text}`, { hint: `see \`cairn list ${ref.name}\`` });
  return version;
}
