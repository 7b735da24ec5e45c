/**
 * @module What every command gets: the parsed global options, the output, and the registry, opened lazily so
 * that `cairn --help` and `cairn --version` never touch the store.
 */
import { userInfo } from "node:os";
import { Registry } from "@cairn/core";
import type { Store } from "@cairn/storage";
import { createOutput, type Output } from "./output.js";
import { locateStore } from "./store-location.js";

/** The server every command goes to instead of the local store: --url/--token, else CAIRN_URL/CAIRN_TOKEN. */
export interface RemoteConfig {
  url: string;
  token?: string;
}

/** The global options, as given before the subcommand. */
export interface GlobalOptions {
  url?: string;
  token?: string;
}

export interface Context {
  out: Output;
  cwd: string;
  /** The server to talk to, or undefined for the embedded store. */
  remote: RemoteConfig | undefined;
  /** Opens the store (once) and returns the registry over it. */
  registry(): Promise<Registry>;
  /** Runs `body` with the registry and closes the store afterwards, even on error. */
  withRegistry<T>(body: (registry: Registry) => Promise<T>): Promise<T>;
  /** Like withRegistry, with the store's parts too, for maintenance commands (gc, verify, stats, fsck). */
  withStore<T>(body: (store: Store, registry: Registry) => Promise<T>): Promise<T>;
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

/** Flags beat the environment (DESIGN.md §5); an empty value counts as not given. */
export function remoteConfig(globals: GlobalOptions = {}): RemoteConfig | undefined {
  const url = globals.url || process.env["CAIRN_URL"] || undefined;
  if (url === undefined) return undefined;
  const token = globals.token || process.env["CAIRN_TOKEN"] || undefined;
  return token === undefined ? { url } : { url, token };
}

export function createContext(json: boolean, cwd = process.cwd(), globals: GlobalOptions = {}): Context {
  let opened: Promise<{ registry: Registry; store: Store }> | undefined;
  const open = () => {
    opened ??= (async () => {
      // Loaded here, not at the top, so commands that never open the store start fast. The environment picks
      // the drivers (CAIRN_DATABASE_URL, CAIRN_BLOB_URL); the store folder is looked for only if one needs it.
      const { openStore, storeConfigFromEnv } = await import("@cairn/storage");
      const store = await openStore(storeConfigFromEnv(() => locateStore(cwd)));
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
    remote: remoteConfig(globals),
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
