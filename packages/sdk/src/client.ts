/**
 * @module `CairnClient`: the registry's REST API as typed methods — artifacts, versions, refs, diff, aliases
 * and their history, rollback, tags, notes, audit, stats, tokens — plus `push` and `pull`, which move file
 * bytes as deduplicated chunks. Every failure is a CairnError carrying the server's code.
 */
import type {
  Alias,
  AliasEvent,
  ApiToken,
  AuditEvent,
  LineageDirection,
  LineageGraph,
  Role,
  SearchKind,
  SearchPage,
  StatsView,
  VersionDiff,
} from "@cairn/core";
import type { ChunkFile } from "./chunk-file.js";
import { Http, segment } from "./http.js";
import { type PullOptions, type PullResult, pull, readContent } from "./pull.js";
import { type PushOptions, type PushResult, push, type TransferSettings } from "./push.js";
import {
  type PromoteRunOptions,
  type Run,
  RunApi,
  type RunListOptions,
  type RunSummary,
  type RunView,
  type StartRunOptions,
} from "./runs.js";
import {
  type ArtifactDetail,
  type ArtifactSummary,
  type CreatedToken,
  type GcReport,
  type Page,
  type PageOptions,
  reviveDiff,
  reviveVersion,
  type VerifyView,
  type VersionSummary,
  type VersionView,
} from "./types.js";

export interface CairnClientOptions {
  /** The server's address, e.g. http://127.0.0.1:7700 (default: CAIRN_URL). */
  url?: string;
  /** A bearer token (default: CAIRN_TOKEN); leave out for a server without tokens. */
  token?: string;
  /** Cuts files into chunks for `push` (default: the SDK's portable chunker). */
  chunker?: ChunkFile;
  /**
   * Bytes of chunks per pack upload (default 16 MiB: two are on the wire at once, and a third fills). With
   * 32 MiB a 1 GiB push peaked at 300–335 MB of memory, with 16 MiB at 265 MB, no slower.
   */
  packBytes?: number;
  /** Tries after the first for a transfer request that got no answer or a 5xx (default 5). */
  retries?: number;
}

const pageQuery = (page: PageOptions = {}) => ({ limit: page.limit, cursor: page.cursor });

export class CairnClient {
  private readonly http: Http;
  private readonly chunker: ChunkFile | undefined;
  private readonly transfer: TransferSettings;
  /** The run routes; `startRun` and the methods below are shortcuts to it. */
  readonly runs: RunApi;

  constructor(options: CairnClientOptions = {}) {
    const url = options.url ?? process.env["CAIRN_URL"];
    if (!url) throw new TypeError("CairnClient needs a url (or CAIRN_URL)");
    this.http = new Http(url, options.token ?? process.env["CAIRN_TOKEN"]);
    this.chunker = options.chunker;
    this.transfer = {
      packBytes: options.packBytes ?? 16 * 1024 * 1024,
      retries: options.retries ?? 5,
    };
    this.runs = new RunApi(this.http, this.transfer, this.chunker);
  }

  /** The server's base URL, normalised. */
  get url(): string {
    return this.http.base;
  }

  // ---- artifacts and versions ------------------------------------------------------------------------------

  listArtifacts(page?: PageOptions): Promise<Page<ArtifactSummary>> {
    return this.http.json("GET", "/artifacts", { query: pageQuery(page) });
  }

  getArtifact(name: string): Promise<ArtifactDetail> {
    return this.http.json("GET", `/artifacts/${segment(name)}`);
  }

  async listVersions(name: string, page?: PageOptions): Promise<Page<VersionSummary>> {
    const answer = await this.http.json<Page<VersionSummary>>("GET", `/artifacts/${segment(name)}/versions`, {
      query: pageQuery(page),
    });
    return { ...answer, items: answer.items.map(reviveVersion) };
  }

  async getVersion(name: string, version: string): Promise<VersionView> {
    return reviveVersion(
      await this.http.json<VersionView>("GET", `/artifacts/${segment(name)}/versions/${segment(version)}`),
    );
  }

  /** The version a ref names: name@1.2.0, name@production, name@latest, name@^1.2, name#3. */
  async resolve(ref: string): Promise<VersionView> {
    return reviveVersion(await this.http.json<VersionView>("GET", `/resolve/${segment(ref)}`));
  }

  async diff(a: string, b: string): Promise<VersionDiff> {
    return reviveDiff(await this.http.json<VersionDiff>("GET", "/diff", { query: { a, b } }));
  }

  /** One file's bytes, streamed (verified by the server as they are read; check `x-cairn-sha256` too). */
  async downloadFile(name: string, version: string, path: string): Promise<Response> {
    const file = path.split("/").map(segment).join("/");
    return this.http.send("GET", `/artifacts/${segment(name)}/versions/${segment(version)}/files/${file}`, {
      headers: { accept: "application/octet-stream" },
    });
  }

  // ---- aliases --------------------------------------------------------------------------------------------

  async listAliases(name: string): Promise<Alias[]> {
    return (await this.http.json<Page<Alias>>("GET", `/artifacts/${segment(name)}/aliases`)).items;
  }

  setAlias(
    name: string,
    alias: string,
    version: string,
    options: { reason?: string } = {},
  ): Promise<AliasEvent> {
    return this.http.json("PUT", `/artifacts/${segment(name)}/aliases/${segment(alias)}`, {
      json: { version, ...(options.reason !== undefined ? { reason: options.reason } : {}) },
    });
  }

  removeAlias(name: string, alias: string, options: { reason?: string } = {}): Promise<AliasEvent> {
    return this.http.json("DELETE", `/artifacts/${segment(name)}/aliases/${segment(alias)}`, {
      query: { reason: options.reason },
    });
  }

  /** Moves an alias back to the version it pointed at before (or to `to`). */
  rollback(name: string, alias: string, options: { to?: string; reason?: string } = {}): Promise<AliasEvent> {
    return this.http.json("POST", `/artifacts/${segment(name)}/aliases/${segment(alias)}/rollback`, {
      json: {
        ...(options.to !== undefined ? { to: options.to } : {}),
        ...(options.reason !== undefined ? { reason: options.reason } : {}),
      },
    });
  }

  /** Every move of an artifact's aliases (or of one), oldest first. */
  aliasHistory(name: string, options: PageOptions & { alias?: string } = {}): Promise<Page<AliasEvent>> {
    return this.http.json("GET", `/artifacts/${segment(name)}/aliases/history`, {
      query: { alias: options.alias, ...pageQuery(options) },
    });
  }

  /** Protects an alias (moving it then needs an admin token) or unprotects it. */
  setAliasProtection(name: string, alias: string, isProtected: boolean): Promise<Alias> {
    return this.http.json("PUT", `/artifacts/${segment(name)}/aliases/${segment(alias)}/protection`, {
      json: { protected: isProtected },
    });
  }

  // ---- tags and notes -------------------------------------------------------------------------------------

  async tag(
    name: string,
    version: string,
    set: Record<string, string>,
    remove: string[] = [],
  ): Promise<VersionView> {
    return reviveVersion(
      await this.http.json<VersionView>(
        "PATCH",
        `/artifacts/${segment(name)}/versions/${segment(version)}/tags`,
        {
          json: { set, remove },
        },
      ),
    );
  }

  async setNotes(name: string, version: string, notes: string): Promise<VersionView> {
    return reviveVersion(
      await this.http.json<VersionView>(
        "PUT",
        `/artifacts/${segment(name)}/versions/${segment(version)}/notes`,
        {
          json: { notes },
        },
      ),
    );
  }

  // ---- audit, stats, tokens, health -----------------------------------------------------------------------

  /** Audit events, newest first. */
  audit(options: PageOptions & { artifact?: string } = {}): Promise<Page<AuditEvent>> {
    return this.http.json("GET", "/audit", { query: { artifact: options.artifact, ...pageQuery(options) } });
  }

  /**
   * Versions (or runs, with `kind: "runs"`) matching a filter such as
   * `metrics.accuracy > 0.9 and tags.team = 'nlp' order by metrics.f1 desc`; pass `nextCursor` for the next page.
   */
  search(
    query: string,
    options: { kind?: SearchKind; limit?: number; cursor?: string } = {},
  ): Promise<SearchPage> {
    return this.http.json("GET", "/search", {
      query: { q: query, kind: options.kind, limit: options.limit, cursor: options.cursor },
    });
  }

  /** The lineage graph around a version ref or a run id: up (made from), down (made from it) or both. */
  lineage(
    ref: string,
    options: { direction?: LineageDirection; depth?: number } = {},
  ): Promise<LineageGraph> {
    return this.http.json("GET", "/lineage", {
      query: { ref, direction: options.direction, depth: options.depth },
    });
  }

  stats(options: { artifact?: string } = {}): Promise<StatsView> {
    return this.http.json("GET", "/stats", { query: { artifact: options.artifact } });
  }

  /** Garbage collection of the server's store (admin); safe while pushes run. */
  gc(options: { dryRun?: boolean } = {}): Promise<GcReport> {
    return this.http.json("POST", "/maintenance/gc", { json: { dryRun: options.dryRun === true } });
  }

  /**
   * Re-reads the server's stored data and checks every hash (admin): one version's files (`ref`), or every
   * pack of the store. Damage is the answer's `ok: false` and `damaged` list, not an error.
   */
  verify(options: { ref?: string } = {}): Promise<VerifyView> {
    return this.http.json("POST", "/maintenance/verify", {
      json: options.ref !== undefined ? { ref: options.ref } : {},
    });
  }

  async listTokens(): Promise<ApiToken[]> {
    return (await this.http.json<{ items: ApiToken[] }>("GET", "/tokens")).items;
  }

  createToken(name: string, role: Role): Promise<CreatedToken> {
    return this.http.json("POST", "/tokens", { json: { name, role } });
  }

  revokeToken(name: string): Promise<ApiToken> {
    return this.http.json("DELETE", `/tokens/${segment(name)}`);
  }

  async health(): Promise<{ status: "ok" }> {
    const response = await fetch(`${this.http.base}/healthz`);
    return (await response.json()) as { status: "ok" };
  }

  // ---- experiment tracking -------------------------------------------------------------------------------

  /** Starts a run and returns a handle to log to it: `await run.logMetrics({loss: 0.3}, step)`. */
  startRun(options: StartRunOptions = {}): Promise<Run> {
    return this.runs.start(options);
  }

  /** A handle on an existing run, by id. */
  run(id: string): Run {
    return this.runs.handle(id);
  }

  getRun(id: string): Promise<RunView> {
    return this.runs.get(id);
  }

  /** Runs, newest first. */
  listRuns(options: RunListOptions = {}): Promise<Page<RunSummary>> {
    return this.runs.list(options);
  }

  /** One page of a metric's points in step order; `runs.allHistory` walks every page. */
  metricHistory(id: string, key: string, page?: PageOptions) {
    return this.runs.history(id, key, page);
  }

  /** Makes a model version from a run (its logged artifacts, or `files`), inheriting its params, metrics, data, code. */
  promoteRun(id: string, options: PromoteRunOptions): Promise<VersionView> {
    return this.runs.promote(id, options);
  }

  // ---- file bytes -----------------------------------------------------------------------------------------

  /**
   * Publishes a version from local files (or bytes): chunks them here and sends only the chunks the server
   * lacks, resuming a dropped pack upload with what is still missing, then commits the version in one request.
   */
  push(options: PushOptions): Promise<PushResult> {
    return push(this.http, options, this.transfer, this.chunker);
  }

  /**
   * Writes the files of the version `ref` names into `dir`, fetching only the chunks missing from the local
   * chunk cache; each file is verified before it is renamed into place.
   */
  pull(ref: string, dir: string, options: PullOptions = {}): Promise<PullResult> {
    return pull(this.http, ref, dir, options, this.transfer.retries);
  }

  /** The bytes of one stored content by sha256 (a version's or run's code patch), verified. */
  readContent(sha256: string, options: Pick<PullOptions, "cache"> = {}): Promise<Uint8Array> {
    return readContent(this.http, sha256, options, this.transfer.retries);
  }
}

/** Every item of a paged list, page by page: `for await (const v of allPages((p) => client.listVersions(n, p)))`. */
export async function* allPages<T>(
  list: (page: PageOptions) => Promise<Page<T>>,
  limit = 1000,
): AsyncGenerator<T> {
  let cursor: string | undefined;
  do {
    const page = await list({ limit, ...(cursor !== undefined ? { cursor } : {}) });
    yield* page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}
