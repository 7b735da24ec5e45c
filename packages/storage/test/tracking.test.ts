/**
 * The tracking store contract on SQLite (the embedded store: SQLite and a local blob folder).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openEmbeddedStore } from "@cairn/storage";
import { runTrackingContract } from "./contract/tracking-contract.js";

runTrackingContract("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cairn-tracking-"));
  const store = await openEmbeddedStore(join(dir, ".cairn"));
  return {
    meta: store.meta,
    content: store.content,
    close: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
