import { mkdtemp, open as openFile, rm, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StoredContent } from "@cairn/core";
import { ChunkStore, type EmbeddedStore, openEmbeddedStore, PACK_PREFIX } from "@cairn/storage";
import { type ContentStoreUnderTest, runContentContract } from "./contract/content-contract.js";

/** Where byte `at` of a stored file sits: its pack's file on disk and the offset in it. */
async function locate(store: ChunkStore, content: StoredContent, at: number) {
  const record = await store.index.getContent(content.sha256);
  if (!record) throw new Error(`content ${content.sha256} is not recorded`);
  let start = 0;
  for (const chunk of record.chunks) {
    if (at < start + chunk.length) {
      const where = (await store.index.locateChunks([chunk.hash])).get(chunk.hash)!;
      return { pack: where.pack, offset: where.offset + (at - start) };
    }
    start += chunk.length;
  }
  throw new Error(`byte ${at} is past the end of the file`);
}

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
      async damage(content, at) {
        const { pack, offset } = await locate(first, content, at);
        const file = await openFile(packPath(pack), "r+");
        try {
          const byte = Buffer.alloc(1);
          await file.read(byte, 0, 1, offset);
          byte[0] = byte[0]! ^ 0x01;
          await file.write(byte, 0, 1, offset);
        } finally {
          await file.close();
        }
      },
      async lose(content, at) {
        await unlink(packPath((await locate(first, content, at)).pack));
      },
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
