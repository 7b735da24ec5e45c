/**
 * @module The registry's use cases — publish a version, move an alias, roll back, tag, annotate — written
 * once over the store interfaces. The embedded CLI and the server both call these, so every rule has one home.
 */
import { planRollback } from "./aliases.js";
import {
  type Action,
  type AuthContext,
  assertAuthorized,
  authorize,
  checkRole,
  checkSecretHash,
  checkTokenName,
  type Role,
} from "./auth.js";
import { conflict, invalid, isCairnError, notFound } from "./errors.js";
import { checkAliasName, checkArtifactName, checkMetrics, checkParams, checkTags } from "./names.js";
import { normaliseFilePath } from "./paths.js";
import type { ContentStore } from "./ports/content.js";
import type { MetadataStore, NewVersion } from "./ports/metadata.js";
import { exactRef, resolveRef } from "./refs.js";
import type {
  AliasEvent,
  ApiToken,
  ArtifactType,
  AuditEvent,
  CodeInfo,
  FileEntry,
  Json,
  JsonObject,
  NewAuditEvent,
  Version,
} from "./types.js";
import { ARTIFACT_TYPES } from "./types.js";
import { type Bump, checkVersion, nextVersion } from "./versions.js";

const SHA256 = /^[0-9a-f]{64}$/;
// How often an automatically numbered push retries after another writer took the number it chose.
const BUMP_ATTEMPTS = 20;
const MOVE_ATTEMPTS = 20;

export interface PublishInput {
  name: string;
  type?: ArtifactType;
  /** An exact version; without it the version is `bump` (default minor) from the highest one. */
  version?: string;
  bump?: Bump;
  /** Files whose content is already in the content store. */
  files: FileEntry[];
  params?: JsonObject;
  metrics?: Record<string, number>;
  notes?: string;
  /** Refs of the data this version was made from; stored resolved to exact versions. */
  data?: string[];
  tags?: Record<string, string>;
  aliases?: string[];
  code?: CodeInfo | null;
  environment?: JsonObject | null;
  run?: string | null;
  /** A ref of the version it was derived from (a base model); stored as the exact version it names now. */
  base?: string | null;
}

export interface RegistryOptions {
  meta: MetadataStore;
  content: ContentStore;
  /** Who is acting, recorded in every audit event and alias move. */
  actor: string;
  /**
   * The role the actor acts with (the server: its bearer token's). Given, every use case checks it with
   * `authorize` and throws FORBIDDEN; left out (embedded mode: single user), anything may be done.
   */
  role?: Role;
  now?: () => Date;
}

export class Registry {
  readonly meta: MetadataStore;
  readonly content: ContentStore;
  readonly actor: string;
  readonly role: Role | undefined;
  private readonly now: () => Date;

  constructor(options: RegistryOptions) {
    this.meta = options.meta;
    this.content = options.content;
    this.actor = options.actor;
    this.role = options.role;
    this.now = options.now ?? (() => new Date());
  }

  /** FORBIDDEN unless the actor's role may do `action`; without a role (embedded mode) anything goes. */
  private check(action: Action, context: AuthContext = {}, target?: string): void {
    if (this.role !== undefined) assertAuthorized(this.role, action, context, target);
  }

  private audit(
    action: string,
    artifact: string | null,
    target: string,
    before: Json,
    after: Json,
  ): NewAuditEvent {
    return { at: this.now().toISOString(), actor: this.actor, action, artifact, target, before, after };
  }

  resolve(ref: string): Promise<Version> {
    return resolveRef(this.meta, ref);
  }

  /**
   * The files (path → sha256) of the version a new push to `name` most likely changes: the base it names, else
   * the artifact's last pushed version; none for a new artifact or a base that does not resolve (the push
   * itself reports that). The content store chunks a new file along the old one at the same path, which
   * skips most of the work where the bytes are unchanged.
   */
  async filesToBuildOn(name: string, base?: string | null): Promise<Map<string, string>> {
    let version: Version | null = null;
    if (base) {
      version = await resolveRef(this.meta, base).catch(() => null);
    } else {
      const last = (await this.meta.listVersions(name)).at(-1); // listed in sequence order
      if (last) version = await this.meta.getVersionBySeq(name, last.seq);
    }
    return new Map(version?.files.map((file) => [file.path, file.sha256]) ?? []);
  }

  /** Records a new immutable version whose files are already stored. */
  async publishVersion(input: PublishInput): Promise<Version> {
    this.check("version.push");
    const name = checkArtifactName(input.name);
    if (input.version !== undefined && input.bump !== undefined)
      throw invalid("give either a version or a bump, not both");
    if (input.type !== undefined && !ARTIFACT_TYPES.includes(input.type)) {
      throw invalid(`invalid type ${JSON.stringify(input.type)}: use model or dataset`);
    }
    const existing = await this.meta.getArtifact(name);
    const type = input.type ?? existing?.type ?? "model";
    if (existing && existing.type !== type) {
      throw conflict(`${name} is a ${existing.type}, not a ${type}`);
    }
    const files = await this.checkFiles(input.files);
    const aliases = [...new Set((input.aliases ?? []).map(checkAliasName))];
    const mayMoveProtected = aliases.length === 0 || this.mayMoveAliases();
    const data = await Promise.all(
      (input.data ?? []).map(async (ref) => {
        const v = await resolveRef(this.meta, ref);
        return exactRef(v.artifact, v.version);
      }),
    );
    const baseVersion =
      input.base === undefined || input.base === null ? null : await resolveRef(this.meta, input.base);
    if (input.code?.patch && !(await this.content.has(input.code.patch))) {
      throw invalid("the code patch is not in the content store");
    }
    const base: Omit<NewVersion, "version"> = {
      artifact: name,
      type,
      createdAt: this.now().toISOString(),
      createdBy: this.actor,
      files,
      params: checkParams(input.params ?? {}),
      metrics: checkMetrics(input.metrics ?? {}),
      tags: checkTags(input.tags ?? {}),
      notes: input.notes ?? "",
      data: [...new Set(data)],
      code: input.code ?? null,
      environment: input.environment ?? null,
      run: input.run ?? null,
      base: baseVersion ? exactRef(baseVersion.artifact, baseVersion.version) : null,
      aliases,
      mayMoveProtected,
    };
    const size = files.reduce((sum, f) => sum + f.size, 0);
    const explicit = input.version !== undefined ? checkVersion(input.version) : undefined;
    for (let attempt = 1; ; attempt++) {
      const version =
        explicit ??
        nextVersion(
          (await this.meta.listVersions(name)).map((v) => v.version),
          input.bump,
        );
      const target = exactRef(name, version);
      try {
        return await this.movingAlias(
          aliases.map((alias) => `${name}@${alias}`),
          () =>
            this.meta.createVersion(
              { ...base, version },
              this.audit("version.create", name, target, null, { files: files.length, size, type }),
              (alias, from) => this.audit("alias.set", name, `${name}@${alias}`, from, version),
            ),
        );
      } catch (error) {
        // Another writer took the number we computed: compute again. An explicit version is the user's conflict.
        if (explicit === undefined && isCairnError(error, "CONFLICT") && attempt < BUMP_ATTEMPTS) continue;
        if (isCairnError(error, "CONFLICT") && explicit !== undefined) {
          throw conflict(`${target} already exists; versions are immutable`, {
            hint: "push with --bump, or choose another --version",
          });
        }
        throw error;
      }
    }
  }

  /** Checks a file list (paths normalised, content present in the store), sorted by path. */
  async checkFiles(files: FileEntry[]): Promise<FileEntry[]> {
    if (files.length === 0) throw invalid("a version needs at least one file");
    const seen = new Set<string>();
    const checked: FileEntry[] = [];
    for (const file of files) {
      const path = normaliseFilePath(file.path);
      if (seen.has(path)) throw invalid(`file ${path} is given twice`);
      seen.add(path);
      if (!Number.isSafeInteger(file.size) || file.size < 0)
        throw invalid(`file ${path} has an invalid size`);
      if (!SHA256.test(file.sha256)) throw invalid(`file ${path} has an invalid sha256`);
      if (!(await this.content.has(file.sha256))) {
        throw invalid(`the content of ${path} (${file.sha256.slice(0, 12)}…) is not in the store`, {
          hint: "upload the file's content before committing the version",
        });
      }
      checked.push({ path, size: file.size, mode: file.mode & 0o777, sha256: file.sha256 });
    }
    return checked.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /**
   * Policy hook, before every alias move (set, remove, rollback, and a push's --alias): moving needs writer,
   * moving a protected alias needs admin. The answer is whether this caller may move a protected alias; the
   * driver checks the alias's flag inside the move's transaction (a protect that lands between our read and
   * the move is honoured), and `movingAlias` turns its refusal into the role's message.
   */
  protected mayMoveAliases(): boolean {
    const role = this.role;
    if (role === undefined) return true;
    this.check("alias.move");
    return authorize(role, "alias.move", { protectedAlias: true }).allowed;
  }

  /** Runs a write that moves `target` (name@alias) with the driver's refusal of a protected alias explained. */
  private async movingAlias<T>(targets: readonly string[], write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (isCairnError(error, "FORBIDDEN") && this.role !== undefined) {
        const target = targets.find((t) => error.message.startsWith(`${t} `)) ?? targets[0];
        this.check("alias.move", { protectedAlias: true }, target);
      }
      throw error;
    }
  }

  /** Points ALIAS at VERSION, recording the move. */
  async setAlias(
    name: string,
    alias: string,
    version: string,
    reason: string | null = null,
  ): Promise<AliasEvent> {
    checkAliasName(alias);
    const target = await resolveRef(this.meta, `${checkArtifactName(name)}@${checkVersion(version)}`);
    return this.moveWithRetry(name, alias, "set", () => target.version, reason);
  }

  async removeAlias(name: string, alias: string, reason: string | null = null): Promise<AliasEvent> {
    checkAliasName(alias);
    if (!(await this.meta.getAlias(checkArtifactName(name), alias)))
      throw notFound(`${name} has no alias ${alias}`);
    return this.moveWithRetry(name, alias, "remove", () => null, reason);
  }

  /** Moves ALIAS back to the version it held before (or to `to`). */
  async rollback(
    name: string,
    alias: string,
    options: { to?: string; reason?: string | null } = {},
  ): Promise<AliasEvent> {
    checkArtifactName(name);
    checkAliasName(alias);
    if (!(await this.meta.getArtifact(name))) throw notFound(`no artifact named ${name}`);
    const to =
      options.to === undefined
        ? undefined
        : (await resolveRef(this.meta, `${name}@${checkVersion(options.to)}`)).version;
    return this.moveWithRetry(
      name,
      alias,
      "rollback",
      (history) => planRollback(name, alias, history, to).to,
      options.reason ?? null,
    );
  }

  /**
   * Applies an alias move as compare-and-set against the current target; when another writer moved it
   * first, re-plans from the fresh history, so history stays linear.
   */
  private async moveWithRetry(
    name: string,
    alias: string,
    action: AliasEvent["action"],
    plan: (history: AliasEvent[]) => string | null,
    reason: string | null,
  ): Promise<AliasEvent> {
    const mayMoveProtected = this.mayMoveAliases();
    for (let attempt = 1; ; attempt++) {
      const current = (await this.meta.getAlias(name, alias))?.version ?? null;
      const history = action === "rollback" ? await this.meta.aliasHistory(name, alias) : [];
      const to = plan(history);
      if (to === current && action !== "remove") throw conflict(`${name}@${alias} already points at ${to}`);
      const at = this.now().toISOString();
      try {
        const move = {
          artifact: name,
          alias,
          action,
          expectedFrom: current,
          to,
          actor: this.actor,
          at,
          reason,
        };
        return await this.movingAlias([`${name}@${alias}`], () =>
          this.meta.moveAlias(
            { ...move, mayMoveProtected },
            this.audit(`alias.${action}`, name, `${name}@${alias}`, current, to),
          ),
        );
      } catch (error) {
        if (isCairnError(error, "CONFLICT") && attempt < MOVE_ATTEMPTS) continue;
        throw error;
      }
    }
  }

  async setAliasProtection(name: string, alias: string, isProtected: boolean) {
    this.check("alias.protect");
    checkAliasName(alias);
    return this.meta.setAliasProtection(
      checkArtifactName(name),
      alias,
      isProtected,
      this.audit(
        isProtected ? "alias.protect" : "alias.unprotect",
        name,
        `${name}@${alias}`,
        !isProtected,
        isProtected,
      ),
    );
  }

  async tag(ref: string, set: Record<string, string>, remove: string[] = []): Promise<Version> {
    this.check("version.tag");
    const version = await resolveRef(this.meta, ref);
    checkTags(set);
    checkTags(Object.fromEntries(remove.map((key) => [key, ""])));
    const before = Object.fromEntries(
      [...Object.keys(set), ...remove]
        .filter((k) => k in version.tags)
        .map((k) => [k, version.tags[k] ?? null]),
    );
    const after: Record<string, Json> = { ...set, ...Object.fromEntries(remove.map((k) => [k, null])) };
    return this.meta.updateVersion(
      version.artifact,
      version.version,
      { tags: { set, remove } },
      this.audit("version.tag", version.artifact, exactRef(version.artifact, version.version), before, after),
    );
  }

  async setNotes(ref: string, notes: string): Promise<Version> {
    this.check("version.notes");
    const version = await resolveRef(this.meta, ref);
    return this.meta.updateVersion(
      version.artifact,
      version.version,
      { notes },
      this.audit(
        "version.notes",
        version.artifact,
        exactRef(version.artifact, version.version),
        version.notes,
        notes,
      ),
    );
  }

  /**
   * Records a token by the hash of its secret (the caller mints the token and shows it once; see
   * @cairn/storage's `mintToken`). The token's name becomes the actor of everything done with it.
   */
  async createToken(name: string, role: Role, secretHash: string): Promise<ApiToken> {
    this.check("token.manage");
    const token: ApiToken = {
      name: checkTokenName(name),
      role: checkRole(role),
      createdAt: this.now().toISOString(),
      createdBy: this.actor,
    };
    try {
      return await this.meta.createToken(
        { ...token, secretHash: checkSecretHash(secretHash) },
        this.audit("token.create", null, `token:${name}`, null, { role }),
      );
    } catch (error) {
      if (isCairnError(error, "CONFLICT")) {
        throw conflict(`a token named ${name} already exists`, {
          hint: `revoke it first (\`cairn token revoke ${name}\`) or choose another --name`,
        });
      }
      throw error;
    }
  }

  async listTokens(): Promise<ApiToken[]> {
    this.check("token.manage");
    return this.meta.listTokens();
  }

  /** Deletes a token: requests bearing it are refused from now on. */
  async revokeToken(name: string): Promise<ApiToken> {
    this.check("token.manage");
    return this.meta.revokeToken(checkTokenName(name), (token) =>
      this.audit("token.revoke", null, `token:${name}`, { role: token.role }, null),
    );
  }

  async aliasHistory(name: string, alias?: string): Promise<AliasEvent[]> {
    if (!(await this.meta.getArtifact(checkArtifactName(name)))) throw notFound(`no artifact named ${name}`);
    return this.meta.aliasHistory(name, alias === undefined ? undefined : checkAliasName(alias));
  }

  async log(name?: string, limit = 100): Promise<AuditEvent[]> {
    if (name !== undefined && !(await this.meta.getArtifact(checkArtifactName(name)))) {
      throw notFound(`no artifact named ${name}`);
    }
    return this.meta.listAudit({ ...(name === undefined ? {} : { artifact: name }), limit });
  }
}
