/**
 * @module Where the registry commands send their work: core's Registry over the local store (embedded), or a
 * `cairn serve` server through the SDK (remote, with --url or CAIRN_URL). Both answer with the same shapes —
 * core's views, which the server also answers with — so each command formats its result once and prints the
 * same text and JSON either way.
 */
import { arch, platform } from "node:os";
import {
  type Alias,
  type AliasEvent,
  type ApiToken,
  type ArtifactSummary,
  type AuditEvent,
  CairnError,
  type CodeInfo,
  type GcReport,
  notFound,
  type PublishInput,
  type Registry,
  type Role,
  type StatsView,
  type VerifyView,
  type Version,
  type VersionSummary,
  type VersionView,
  viewStats,
  viewVersion,
} from "@cairn/core";
import type { CairnClient } from "@cairn/sdk";
import type { Store } from "@cairn/storage";
import type { Context, RemoteConfig } from "./context.js";
import type { GitCapture } from "./git.js";
import type { LocalFile } from "./local-files.js";
import { startProgress } from "./progress.js";
import { pullVersion } from "./pull-files.js";
import { storeChunker } from "./remote-chunker.js";
import { storeCode, storeLocalFiles } from "./store-files.js";

/** What `push` records besides the files and the code. */
export type PublishRequest = Omit<PublishInput, "files" | "code" | "environment">;

/** What `pull` prints. */
export interface PullSummary {
  name: string;
  version: string;
  dir: string;
  files: number;
  size: number;
}

export interface CreatedToken {
  /** The bearer secret, shown once. */
  token: string;
  created: ApiToken;
}

export interface RegistryBackend {
  resolve(ref: string): Promise<VersionView>;
  listArtifacts(): Promise<ArtifactSummary[]>;
  /** NOT_FOUND for an unknown artifact. */
  listVersions(name: string): Promise<VersionSummary[]>;
  /** Stores the files (and the git patch) durably, then records the version; progress on stderr. */
  publish(request: PublishRequest, files: LocalFile[], git: GitCapture | null): Promise<VersionView>;
  /** Writes the version `ref` names under `dirFor(version)`, each file verified then renamed into place. */
  pull(ref: string, dirFor: (version: VersionView) => string): Promise<PullSummary>;
  setAlias(name: string, alias: string, version: string, reason: string | null): Promise<AliasEvent>;
  removeAlias(name: string, alias: string, reason: string | null): Promise<AliasEvent>;
  setAliasProtection(name: string, alias: string, isProtected: boolean): Promise<Alias>;
  aliasHistory(name: string, alias?: string): Promise<AliasEvent[]>;
  rollback(name: string, alias: string, options: { to?: string; reason: string | null }): Promise<AliasEvent>;
  tag(ref: string, set: Record<string, string>, remove: string[]): Promise<VersionView>;
  setNotes(ref: string, notes: string): Promise<VersionView>;
  log(name: string | undefined, limit: number): Promise<AuditEvent[]>;
  /** NOT_FOUND for an unknown artifact. */
  stats(name: string | undefined): Promise<StatsView>;
  /** Mark and sweep of the store's chunks; safe while pushes run. */
  gc(options: { dryRun: boolean }): Promise<GcReport>;
  /** Re-reads one version's files (REF) or every pack of the store; damage is reported, not thrown. */
  verify(ref: string | undefined): Promise<VerifyView>;
  createToken(name: string, role: Role): Promise<CreatedToken>;
  listTokens(): Promise<ApiToken[]>;
  revokeToken(name: string): Promise<ApiToken>;
}

/** Runs `body` with the backend the configuration names; an embedded store is closed afterwards. */
export async function withBackend<T>(
  ctx: Context,
  body: (backend: RegistryBackend) => Promise<T>,
): Promise<T> {
  if (ctx.remote) return body(remoteBackend(ctx, await openClient(ctx.remote)));
  return ctx.withStore((store, registry) => body(embeddedBackend(ctx, store, registry)));
}

/** The SDK client for the configured server, loaded only then so embedded commands never load it. */
export async function openClient(remote: RemoteConfig): Promise<CairnClient> {
  const { CairnClient } = await import("@cairn/sdk");
  return new CairnClient({
    url: remote.url,
    ...(remote.token !== undefined ? { token: remote.token } : {}),
    chunker: storeChunker,
  });
}

/** A git capture as the server records it; its patch travels separately, as content. */
export function remoteCode(git: GitCapture | null): CodeInfo | null {
  return git
    ? {
        remote: git.remote,
        branch: git.branch,
        commit: git.commit,
        dirty: git.dirty,
        patch: null,
        path: git.path,
      }
    : null;
}

const pushEnvironment = () => ({ runtime: `node ${process.version}`, platform: platform(), arch: arch() });

/** Runs `body` under a progress bar on stderr (none with --json), stopped whatever happens. */
async function withProgress<T>(
  ctx: Context,
  label: string,
  total: number,
  body: (update: (bytes: number) => void) => Promise<T>,
): Promise<T> {
  const progress = await startProgress(label, total, ctx.out.json);
  try {
    return await body((bytes) => progress.update(bytes));
  } finally {
    progress.stop();
  }
}

const sizeOf = (files: ReadonlyArray<{ size: number }>) => files.reduce((sum, f) => sum + f.size, 0);

function embeddedBackend(ctx: Context, store: Store, registry: Registry): RegistryBackend {
  const view = async (version: Promise<Version>) => viewVersion(await version);
  return {
    resolve: (ref) => view(registry.resolve(ref)),
    listArtifacts: () => registry.meta.listArtifacts(),
    async listVersions(name) {
      if (!(await registry.meta.getArtifact(name))) await registry.resolve(name); // NOT_FOUND, the usual message
      return registry.meta.listVersions(name);
    },
    async publish(request, local, git) {
      const earlier = await registry.filesToBuildOn(request.name, request.base);
      const files = await storeLocalFiles(
        registry.content,
        local,
        `push ${request.name}`,
        ctx.out.json,
        earlier,
      );
      const code = await storeCode(registry.content, git);
      // Packs durable and indexed before the version that refers to them is committed.
      await registry.content.flush();
      return view(registry.publishVersion({ ...request, files, code, environment: pushEnvironment() }));
    },
    async pull(ref, dirFor) {
      const version = await registry.resolve(ref);
      const viewed = viewVersion(version);
      const dir = dirFor(viewed);
      const size = sizeOf(version.files);
      await withProgress(ctx, `pull ${version.artifact}@${version.version}`, size, (update) =>
        pullVersion(registry, version, dir, update),
      );
      return { name: version.artifact, version: version.version, dir, files: version.files.length, size };
    },
    setAlias: (name, alias, version, reason) => registry.setAlias(name, alias, version, reason),
    removeAlias: (name, alias, reason) => registry.removeAlias(name, alias, reason),
    setAliasProtection: (name, alias, isProtected) => registry.setAliasProtection(name, alias, isProtected),
    aliasHistory: (name, alias) => registry.aliasHistory(name, alias),
    rollback: (name, alias, options) => registry.rollback(name, alias, options),
    tag: (ref, set, remove) => view(registry.tag(ref, set, remove)),
    setNotes: (ref, notes) => view(registry.setNotes(ref, notes)),
    log: (name, limit) => registry.log(name, limit),
    async stats(name) {
      if (name !== undefined && !(await registry.meta.getArtifact(name))) {
        throw notFound(`no artifact named ${name}`, { hint: "see `cairn list`" });
      }
      const index = store.content.index;
      return viewStats(await index.stats(name), await index.packBytes());
    },
    async gc(options) {
      const { collectGarbage } = await import("@cairn/storage");
      return collectGarbage(store.content, options);
    },
    async verify(ref) {
      const { verifyRegistry } = await import("@cairn/storage");
      return verifyRegistry(registry, ref);
    },
    async createToken(name, role) {
      const { mintToken } = await import("@cairn/storage");
      const { token, secretHash } = mintToken();
      return { token, created: await registry.createToken(name, role, secretHash) };
    },
    listTokens: () => registry.listTokens(),
    revokeToken: (name) => registry.revokeToken(name),
  };
}

/** Every item of a paged list, page after page. */
async function allPages<T>(
  list: (page: { limit: number; cursor?: string }) => Promise<{ items: T[]; nextCursor: string | null }>,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await list({ limit: 1000, ...(cursor !== undefined ? { cursor } : {}) });
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return items;
}

function remoteBackend(ctx: Context, client: CairnClient): RegistryBackend {
  return {
    resolve: (ref) => client.resolve(ref),
    listArtifacts: () => allPages((page) => client.listArtifacts(page)),
    listVersions: (name) => allPages((page) => client.listVersions(name, page)),
    async publish(request, local, git) {
      const pushed = await withProgress(ctx, `push ${request.name}`, sizeOf(local), (update) =>
        client.push({
          ...request,
          files: local.map((f) => ({ path: f.path, source: f.source, mode: f.mode })),
          code: remoteCode(git),
          environment: pushEnvironment(),
          ...(git?.patch ? { patch: git.patch } : {}),
          onProgress: (p) => update(p.bytesRead),
        }),
      );
      return pushed.version;
    },
    async pull(ref, dirFor) {
      const version = await client.resolve(ref);
      const dir = dirFor(version);
      const size = sizeOf(version.files);
      // The exact version, so an alias moved meanwhile cannot change what lands in the folder.
      await withProgress(ctx, `pull ${version.name}@${version.version}`, size, (update) =>
        client.pull(`${version.name}@${version.version}`, dir, { onProgress: (p) => update(p.bytes) }),
      );
      return { name: version.name, version: version.version, dir, files: version.files.length, size };
    },
    setAlias: (name, alias, version, reason) =>
      client.setAlias(name, alias, version, reason !== null ? { reason } : {}),
    removeAlias: (name, alias, reason) => client.removeAlias(name, alias, reason !== null ? { reason } : {}),
    setAliasProtection: (name, alias, isProtected) => client.setAliasProtection(name, alias, isProtected),
    async aliasHistory(name, alias) {
      return allPages((page) =>
        client.aliasHistory(name, { ...page, ...(alias !== undefined ? { alias } : {}) }),
      );
    },
    rollback: (name, alias, options) =>
      client.rollback(name, alias, {
        ...(options.to !== undefined ? { to: options.to } : {}),
        ...(options.reason !== null ? { reason: options.reason } : {}),
      }),
    async tag(ref, set, remove) {
      const version = await client.resolve(ref);
      return client.tag(version.name, version.version, set, remove);
    },
    async setNotes(ref, notes) {
      const version = await client.resolve(ref);
      return client.setNotes(version.name, version.version, notes);
    },
    async log(name, limit) {
      const events: AuditEvent[] = [];
      let cursor: string | undefined;
      while (events.length < limit) {
        const page = await client.audit({
          limit: Math.min(limit - events.length, 1000),
          ...(name !== undefined ? { artifact: name } : {}),
          ...(cursor !== undefined ? { cursor } : {}),
        });
        events.push(...page.items);
        if (page.nextCursor === null) break;
        cursor = page.nextCursor;
      }
      return events;
    },
    stats: (name) => client.stats(name !== undefined ? { artifact: name } : {}),
    gc: (options) => client.gc(options),
    verify: (ref) => client.verify(ref !== undefined ? { ref } : {}),
    async createToken(name, role) {
      const { token, ...created } = await client.createToken(name, role);
      return { token, created };
    },
    listTokens: () => client.listTokens(),
    revokeToken: (name) => client.revokeToken(name),
  };
}

/** For commands that work on a store's files and have no meaning against a server. */
export function localOnly(ctx: Context, command: string, why: string): void {
  if (ctx.remote) {
    throw new CairnError(
      "USAGE",
      `\`cairn ${command}\` works on a local store only (${why}); it cannot run against ${ctx.remote.url}`,
      { hint: "leave out --url and unset CAIRN_URL" },
    );
  }
}
