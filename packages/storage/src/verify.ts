/**
 * @module `cairn verify` on a store: one version (REF) or the whole store, as core's VerifyView. The embedded
 * CLI and the server's `POST /maintenance/verify` both call this, so the two answer alike.
 */
import { invalid, type Registry, type VerifyView, verifyVersion, viewStoreVerify } from "@cairn/core";
import { ChunkStore } from "./chunks/chunk-store.js";
import { verifyStore } from "./chunks/maintenance.js";

/** Re-reads the files of the version `ref` names, or, without a ref, every pack of the store. */
export async function verifyRegistry(registry: Registry, ref?: string): Promise<VerifyView> {
  if (ref !== undefined) return verifyVersion(registry, ref);
  const { content } = registry;
  if (!(content instanceof ChunkStore)) throw invalid("this store keeps no packs to verify");
  return viewStoreVerify(await verifyStore(content));
}
