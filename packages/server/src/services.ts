/**
 * @module What every route gets: the open store and a Registry acting for the request's actor. Passed to the
 * route plugins explicitly, so the wiring stays in one place (app.ts).
 */
import {
  type ChunkIndex,
  type ContentStore,
  invalid,
  type MetadataStore,
  Registry,
  RunTracker,
  type SearchStore,
  type TrackingStore,
  trackingOf,
} from "@cairn/core";
import type { FastifyRequest } from "fastify";

/** The parts of a store the server uses; `openEmbeddedStore` returns one. */
export interface ServerStore {
  meta: MetadataStore;
  /** The content store; a chunk store also exposes its index, which `/stats` reads. */
  content: ContentStore & { readonly index?: ChunkIndex };
  /** Runs and metrics; a store without it answers the run routes with INVALID. */
  tracking?: TrackingStore;
  /** Search over versions and runs; a store without it answers /search with INVALID. */
  search?: SearchStore;
  close(): Promise<void>;
}

declare module "fastify" {
  interface FastifyRequest {
    /** Who is acting, recorded in audit events and alias moves; set by the actor hook before any handler. */
    actor: string;
  }
}

export class Services {
  private opened: ServerStore | undefined;

  /**
   * @param packsMayArriveElsewhere other processes of this server take some of a client's connections (the
   *   workers of `cairn serve --workers N`), so a session's earlier packs may never reach this one.
   */
  constructor(
    store?: ServerStore,
    readonly packsMayArriveElsewhere = false,
  ) {
    this.opened = store;
  }

  /** The store, once the app is ready. */
  get store(): ServerStore {
    if (!this.opened) throw new Error("the store is not open yet: await app.ready() first");
    return this.opened;
  }

  async open(openStore: () => Promise<ServerStore>): Promise<void> {
    this.opened = await openStore();
  }

  /** Closes a store this app opened (one it was handed belongs to the caller). */
  async close(): Promise<void> {
    const store = this.opened;
    this.opened = undefined;
    await store?.close();
  }

  /**
   * A Registry per request: cheap (it holds references only) and it carries the request's actor and role, so
   * core checks every use case (a protected alias, say) against the role of the token that asked.
   */
  registry(request: FastifyRequest): Registry {
    return new Registry({
      meta: this.store.meta,
      content: this.store.content,
      actor: request.actor,
      role: request.role,
    });
  }

  /** Experiment tracking for the request's actor and role. */
  runs(request: FastifyRequest): RunTracker {
    const store = this.store.tracking ?? trackingOf(this.store.meta);
    return new RunTracker({ registry: this.registry(request), store });
  }

  /** The filter search; any role that can read may search. */
  search(): SearchStore {
    const search = this.store.search;
    if (!search) throw invalid("this store cannot search");
    return search;
  }

  chunkIndex(): ChunkIndex {
    const index = this.store.content.index;
    if (!index) throw invalid("this store keeps no chunk index, so it has no storage statistics");
    return index;
  }
}
