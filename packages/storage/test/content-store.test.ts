import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChunkStore, type EmbeddedStore, openEmbeddedStore, PACK_PREFIX } from "@cairn/storage";
import { type ContentStoreUnderTest, packFileHarm, runContentContract } from "./contract/content-contract.js";

/**
 * The chunk store as `cairn` opens it (a blob folder and the SQLite chunk index of `openEmbeddedStore`), with
 * packs of `packSize` bytes (the default 64 MiB when undefined).
 */
function embeddedChunkStore(packSize: number | undefined): () => Promise<ContentStoreUnderTest> {
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), "cairn-content-"));
    const home = join(dir, ".cairn");
    const opened: EmbeddedStore[] = [];
    const stores: ChunkStore[] = [];
    const chunkStore = async () => {
      const store = await openEmbeddedStore(home);
      opened.push(store);
      const content =
        packSize === undefined
          ? store.content
          : new ChunkStore(store.blobs, store.meta.chunkIndex(), { packSize });
      stores.push(content);
      return content;
    };
    const first = await chunkStore();
    const packs = async () => {
      const found: Array<{ key: string; size: number }> = [];
      for await (const blob of first.blobs.list(PACK_PREFIX)) found.push(blob);
      return found;
    };
    const packPath = (key: string) => join(opened[0]!.blobs.dir, ...key.split("/"));
    return {
      content: first,
      reopen: chunkStore,
      storedBytes: async () => (await packs()).reduce((n, p) => n + p.size, 0),
      objectCount: async () => (await packs()).length,
      ...packFileHarm(first.index, packPath),
      async cleanup() {
        // Each store's session ends before its database closes.
        for (const store of stores) await store.close();
        for (const store of opened) await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  };
}

runContentContract("chunk store (fs blobs, SQLite chunk index)", embeddedChunkStore(undefined));
// Small packs: files span several packs, and packs fill and seal in the middle of a write.
runContentContract("chunk store with 1 MiB packs", embeddedChunkStore(1024 * 1024));
