/**
 * @module What every command gets: the parsed global options, the output, and the registry, opened lazily so
 * that `cairn --help` and `cairn --version` never touch the store.
 */
import { userInfo } from "node:os";
import { Registry } from "@cairn/core";
import type { EmbeddedStore } from "@cairn/storage";
import { createOutput, type Output } from "./output.js";
import { locateStore } from "./store-location.js";

export interface Context {
  out: Output;
  cwd: string;
  /** Opens the store (once) and returns the registry over it. */
  registry(): Promise<Registry>;
  /** Runs `body` with the registry and closes the store afterwards, even on error. */
  withRegistry<T>(body: (registry: Registry) => Promise<T>): Promise<T>;
  /** Like withRegistry, with the store's parts too, for maintenance commands (gc, verify, stats, fsck). */
  withStore<T>(body: (store: EmbeddedStore, registry: Registry) => Promise<T>): Promise<T>;
}

function actorName(): string {
  const fromEnv = process.env["CAIRN_ACTOR"];
  if (fromEnv) return fromEnv;
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}

export function createContext(json: boolean, cwd = process.cwd()): Context {
  let opened: Promise<{ registry: Registry; store: EmbeddedStore }> | undefined;
  const open = () => {
    opened ??= (async () => {
      const home = locateStore(cwd);
      // Loaded here, not at the top, so commands that never open the store start fast.
      const { openEmbeddedStore } = await import("@cairn/storage");
      const store = await openEmbeddedStore(home);
      return {
        registry: new Registry({ meta: store.meta, content: store.content, actor: actorName() }),
        store,
      };
    })();
    return opened;
  };
  const ctx: Context = {
    out: createOutput(json),
    cwd,
    async registry() {
      return (await open()).registry;
    },
    withRegistry(body) {
      return ctx.withStore((_store, registry) => body(registry));
    },
    async withStore(body) {
      const { store, registry } = await open();
      try {
        return await body(store, registry);
      } finally {
        opened = undefined;
        await store.close();
      }
    },
  };
  return ctx;
}
