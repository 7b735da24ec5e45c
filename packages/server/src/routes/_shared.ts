/**
 * @module Helpers the route files share: the plugin type they are written as, and the lookups that turn a
 * path's name and version into a checked ref with the same NOT_FOUND messages the CLI prints.
 */
import {
  type Artifact,
  checkArtifactName,
  checkVersion,
  exactRef,
  type MetadataStore,
  notFound,
} from "@cairn/core";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { Services } from "../services.js";

export type RoutePlugin = FastifyPluginAsyncTypebox<{ services: Services }>;

/** The artifact, or NOT_FOUND worded as `resolveRef` words it. */
export async function requireArtifact(meta: MetadataStore, name: string): Promise<Artifact> {
  const artifact = await meta.getArtifact(checkArtifactName(name));
  if (!artifact) throw notFound(`no artifact named ${name}`, { hint: "see `cairn list`" });
  return artifact;
}

/** `name@version` from a path's parts, both checked (INVALID names the bad one). */
export function versionRef(name: string, version: string): string {
  return exactRef(checkArtifactName(name), checkVersion(version));
}
