import { randomFillSync } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CairnClient } from "@cairn/sdk";
import { buildApp } from "@cairn/server";
import { openEmbeddedStore } from "@cairn/storage";

const dir = await mkdtemp(join(tmpdir(), "dbg-"));
const store = await openEmbeddedStore(join(dir, ".cairn"));
const app = buildApp({ store, logger: { level: "info" } });
const url = await app.listen({ port: 0, host: "127.0.0.1" });
const port = new URL(url).port;
let forwarded = 0,
  didCut = false;
const cutAfter = 30 * 1024 * 1024;
const proxy = createServer((client) => {
  const upstream = connect(Number(port), "127.0.0.1");
  client.on("data", (data) => {
    if (!didCut && forwarded + data.length > cutAfter) {
      didCut = true;
      upstream.write(data.subarray(0, cutAfter - forwarded));
      client.destroy();
      upstream.destroy();
      return;
    }
    forwarded += data.length;
    upstream.write(data);
  });
  upstream.on("data", (d) => client.write(d));
  client.on("close", () => upstream.destroy());
  upstream.on("close", () => client.destroy());
  client.on("error", () => {});
  upstream.on("error", () => {});
});
await new Promise((r) => proxy.listen(0, "127.0.0.1", r));
const bytes = Buffer.alloc(48 * 1024 * 1024);
randomFillSync(bytes);
const failing = new CairnClient({ url: `http://127.0.0.1:${proxy.address().port}`, retries: 0 });
const e = await failing.push({ name: "r", files: [{ path: "w", source: bytes }] }).catch((e) => e);
console.error("FAILED WITH", e.status, e.code, e.message);
await new Promise((r) => setTimeout(r, 500));
console.error("packbytes", await store.content.index.packBytes());
const r = await new CairnClient({ url }).push({ name: "r", files: [{ path: "w", source: bytes }] });
console.error("second", r.sentChunks, r.chunks, r.sentBytes);
await app.close();
await store.close();
proxy.close();
