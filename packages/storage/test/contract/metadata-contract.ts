/**
 * @module The MetadataStore contract: every metadata driver (SQLite, PostgreSQL) runs this same suite, through
 * the interface only, so the rules users rely on hold whichever database is behind the registry.
 */
import type { AliasMove, AuditEvent, Json, MetadataStore, NewAuditEvent, NewVersion } from "@cairn/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

/** A fake sha256 that is recognisably numbered. */
export const sha = (n: number): string => n.toString(16).padStart(64, "0");

/** Distinct, increasing timestamps. */
const at = (second: number): string => new Date(Date.UTC(2025, 2, 3, 9, 0, second)).toISOString();

/** A version as the registry hands it to a driver: one file, nothing else set unless `extra` says so. */
export function newVersion(artifact: string, version: string, extra: Partial<NewVersion> = {}): NewVersion {
  return {
    artifact,
    type: "model",
    version,
    createdAt: at(0),
    createdBy: "ada",
    files: [{ path: "model.bin", size: 10, mode: 0o644, sha256: sha(1) }],
    params: {},
    metrics: {},
    tags: {},
    notes: "",
    data: [],
    code: null,
    environment: null,
    run: null,
    base: null,
    aliases: [],
    ...extra,
  };
}

function audit(
  action: string,
  artifact: string | null,
  target: string,
  before: Json,
  after: Json,
): NewAuditEvent {
  return { at: at(0), actor: "ada", action, artifact, target, before, after };
}

/** Records the calls of createVersion's alias-audit callback. */
function aliasAuditor(artifact: string, version: string) {
  const calls: Array<[string, string | null]> = [];
  const build = (alias: string, from: string | null): NewAuditEvent => {
    calls.push([alias, from]);
    return audit("alias.set", artifact, `${artifact}@${alias}`, from, version);
  };
  return { calls, build };
}

const withoutIds = (events: AuditEvent[]) => events.map(({ id: _, ...rest }) => rest);

export function runMetadataContract(
  name: string,
  open: () => Promise<MetadataStore>,
  cleanup: () => Promise<void>,
): void {
  describe(`MetadataStore contract: ${name}`, () => {
    let store: MetadataStore;

    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    /** Creates a version the way the registry does, with its audit events. */
    async function create(artifact: string, version: string, extra: Partial<NewVersion> = {}) {
      const auditor = aliasAuditor(artifact, version);
      return store.createVersion(
        newVersion(artifact, version, extra),
        audit("version.create", artifact, `${artifact}@${version}`, null, { files: 1 }),
        auditor.build,
      );
    }

    function move(
      artifact: string,
      alias: string,
      expectedFrom: string | null,
      to: string | null,
      extra: Partial<AliasMove> = {},
    ) {
      const action = extra.action ?? (to === null ? "remove" : "set");
      return store.moveAlias(
        { artifact, alias, action, expectedFrom, to, actor: "ada", at: at(30), reason: null, ...extra },
        audit(`alias.${action}`, artifact, `${artifact}@${alias}`, expectedFrom, to),
      );
    }

    /** Everything a failed write could have touched, to show that it touched nothing. */
    async function snapshot(artifact: string) {
      return {
        artifacts: await store.listArtifacts(),
        versions: await store.listVersions(artifact),
        aliases: await store.listAliases(artifact),
        history: await store.aliasHistory(artifact),
        audit: await store.listAudit({}),
      };
    }

    describe("artifacts and versions", () => {
      it("starts empty", async () => {
        expect(await store.listArtifacts()).toEqual([]);
        expect(await store.getArtifact("resnet")).toBeNull();
        expect(await store.getVersion("resnet", "1.0.0")).toBeNull();
        expect(await store.listVersions("resnet")).toEqual([]);
        expect(await store.listAudit({})).toEqual([]);
        expect(await store.listLiveContent()).toEqual(new Set());
      });

      it("the first version creates its artifact, with the version's type and time", async () => {
        const created = await create("iris", "0.1.0", { type: "dataset", createdAt: at(5) });
        expect(created.seq).toBe(1);
        expect(await store.getArtifact("iris")).toEqual({ name: "iris", type: "dataset", createdAt: at(5) });
      });

      it("keeps every part of a version exactly as given, files sorted by path", async () => {
        const input = newVersion("resnet", "1.2.0-rc.1", {
          createdAt: at(7),
          createdBy: "grace",
          files: [
            { path: "weights/b.bin", size: 2048, mode: 0o644, sha256: sha(2) },
            { path: "run.sh", size: 12, mode: 0o755, sha256: sha(3) },
            { path: "config.json", size: 300, mode: 0o600, sha256: sha(4) },
          ],
          params: {
            lr: 0.001,
            layers: [64, 128],
            optimizer: { name: "adam", betas: [0.9, 0.999] },
            ok: true,
            x: null,
          },
          metrics: { accuracy: 0.93, loss: 1e-12, steps: 1_000_000, huge: 1.7976931348623157e308 },
          tags: { stage: "candidate", "team/owner": "vision" },
          notes: "# Release\n\nbetter *recall* — ünïcode ✓",
          data: ["imagenet@2.0.0", "coco@1.0.0"],
          code: {
            remote: "git@example.com:ml/resnet.git",
            branch: "main",
            commit: "a".repeat(40),
            dirty: true,
            patch: sha(9),
            path: "models/resnet",
          },
          environment: { python: "3.12.1", packages: { torch: "2.4.0" } },
          run: "run-42",
          base: "resnet@1.1.0",
        });
        const created = await store.createVersion(
          input,
          audit("version.create", "resnet", "resnet@1.2.0-rc.1", null, {}),
          () => audit("alias.set", "resnet", "x", null, null),
        );
        const { aliases: _, ...rest } = input;
        const expected = {
          ...rest,
          seq: 1,
          aliases: [],
          files: [...input.files].sort((a, b) => (a.path < b.path ? -1 : 1)),
        };
        expect(created).toEqual(expected);
        expect(await store.getVersion("resnet", "1.2.0-rc.1")).toEqual(expected);
        expect(await store.getVersionBySeq("resnet", 1)).toEqual(expected);
      });

      it("gives a version's params back with their keys in the order given, nested objects too", async () => {
        // An order a database might prefer instead: shortest key first, then by bytes (PostgreSQL's jsonb).
        const params = {
          zeta: 1,
          lr: 0.1,
          batch_size: 32,
          a: { y: 1, x: 2 },
          optimizer: { name: "adam", b: 2 },
        };
        const given = JSON.stringify(params);
        const created = await create("resnet", "1.0.0", { params, aliases: ["production"] });
        const reads = [
          created,
          await store.getVersion("resnet", "1.0.0"),
          await store.getVersionBySeq("resnet", 1),
          ...(store.resolveAlias === undefined ? [] : [await store.resolveAlias("resnet", "production")]),
        ];
        for (const read of reads) {
          expect(typeof read === "object" && read !== null && JSON.stringify(read.params)).toBe(given);
        }
      });

      it("gives code, environment and audit details back with their keys in the order given", async () => {
        // The order cairn writes them in, which a database might change (jsonb: shortest key first).
        const code = {
          remote: "git@example.com:ml/resnet.git",
          branch: "main",
          commit: "0123456789abcdef0123456789abcdef01234567",
          dirty: true,
          patch: sha(7),
          path: "models/resnet",
        };
        const environment = {
          runtime: "node v20",
          platform: "linux",
          arch: "x64",
          lock: { zlib: "1", a: "2" },
        };
        const after = { type: "model", files: 1, size: 10, aliases: ["production"] };
        await store.createVersion(
          newVersion("resnet", "1.0.0", { code, environment }),
          audit("version.create", "resnet", "resnet@1.0.0", null, after),
          () => audit("alias.set", "resnet", "resnet@production", null, "1.0.0"),
        );
        const read = await store.getVersion("resnet", "1.0.0");
        expect(JSON.stringify(read?.code)).toBe(JSON.stringify(code));
        expect(JSON.stringify(read?.environment)).toBe(JSON.stringify(environment));
        const [event] = await store.listAudit({});
        expect(JSON.stringify(event?.after)).toBe(JSON.stringify(after));
      });

      it("round-trips NaN, +Infinity, -Infinity and -0 metrics exactly", async () => {
        const metrics = {
          nan: Number.NaN,
          inf: Number.POSITIVE_INFINITY,
          ninf: Number.NEGATIVE_INFINITY,
          nzero: -0,
          zero: 0,
          tiny: 5e-324,
        };
        await create("diverged", "1.0.0", { metrics });
        const stored = (await store.getVersion("diverged", "1.0.0"))!.metrics;
        const listed = (await store.listVersions("diverged"))[0]!.metrics;
        for (const read of [stored, listed]) {
          expect(Object.keys(read).sort()).toEqual(Object.keys(metrics).sort());
          for (const [key, value] of Object.entries(metrics))
            expect(Object.is(read[key], value), key).toBe(true);
        }
      });

      it("numbers versions 1, 2, 3 … per artifact, independently", async () => {
        expect((await create("a", "1.0.0")).seq).toBe(1);
        expect((await create("b", "5.0.0")).seq).toBe(1);
        expect((await create("a", "0.9.0")).seq).toBe(2);
        expect((await create("a", "2.0.0-rc.1")).seq).toBe(3);
        expect((await create("b", "5.0.1")).seq).toBe(2);
        expect((await store.getVersionBySeq("a", 2))?.version).toBe("0.9.0");
        expect(await store.getVersionBySeq("a", 4)).toBeNull();
        expect(await store.getVersionBySeq("nope", 1)).toBeNull();
      });

      it("an existing version is CONFLICT and changes nothing: no alias move, no audit, no lost number", async () => {
        await create("resnet", "1.0.0", { aliases: ["production"] });
        const before = await snapshot("resnet");
        await expect(
          create("resnet", "1.0.0", {
            aliases: ["production", "staging"],
            files: [{ path: "other.bin", size: 1, mode: 0o644, sha256: sha(77) }],
          }),
        ).rejects.toMatchObject({ code: "CONFLICT" });
        expect(await snapshot("resnet")).toEqual(before);
        expect((await store.getVersion("resnet", "1.0.0"))?.files[0]?.sha256).toBe(sha(1));
        expect(await store.listLiveContent()).not.toContain(sha(77));
        expect((await create("resnet", "1.1.0")).seq).toBe(2);
      });

      it("a version of another type than its artifact is CONFLICT and changes nothing", async () => {
        await create("iris", "1.0.0", { type: "dataset" });
        const before = await snapshot("iris");
        await expect(create("iris", "1.1.0", { type: "model" })).rejects.toMatchObject({ code: "CONFLICT" });
        expect(await snapshot("iris")).toEqual(before);
        expect((await store.getArtifact("iris"))?.type).toBe("dataset");
      });

      it("two concurrent creates of the same version: exactly one wins", async () => {
        const results = await Promise.allSettled([create("race", "1.0.0"), create("race", "1.0.0")]);
        expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
        const failure = results.find((r) => r.status === "rejected");
        expect(failure?.status === "rejected" && failure.reason).toMatchObject({ code: "CONFLICT" });
        expect(await store.listVersions("race")).toHaveLength(1);
      });

      it("concurrent creates of different versions get distinct, gapless numbers", async () => {
        const versions = Array.from({ length: 12 }, (_, i) => `1.${i}.0`);
        await Promise.all(versions.map((v) => create("busy", v)));
        const seqs = (await store.listVersions("busy")).map((v) => v.seq);
        expect(seqs).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      });

      it("lists versions in sequence order with their size, file count, metrics and aliases", async () => {
        await create("resnet", "2.0.0", {
          createdAt: at(1),
          files: [
            { path: "a.bin", size: 100, mode: 0o644, sha256: sha(1) },
            { path: "b.bin", size: 23, mode: 0o644, sha256: sha(2) },
          ],
          metrics: { accuracy: 0.9, loss: Number.NaN },
          aliases: ["staging"],
        });
        await create("resnet", "1.0.0", { createdAt: at(2), aliases: ["production", "champion"] });
        await create("resnet", "1.10.0", { createdAt: at(3), metrics: { accuracy: 0.95 } });
        await create("other", "1.0.0", { aliases: ["production"], metrics: { accuracy: 0.1 } });
        const listed = await store.listVersions("resnet");
        expect(listed.map((v) => v.version)).toEqual(["2.0.0", "1.0.0", "1.10.0"]);
        expect(listed[0]).toEqual({
          artifact: "resnet",
          version: "2.0.0",
          seq: 1,
          createdAt: at(1),
          size: 123,
          fileCount: 2,
          metrics: { accuracy: 0.9, loss: Number.NaN },
          aliases: ["staging"],
        });
        expect(listed[1]?.aliases).toEqual(["champion", "production"]);
        expect(listed[1]).toMatchObject({ size: 10, fileCount: 1, metrics: {} });
        expect(listed[2]).toMatchObject({ aliases: [], metrics: { accuracy: 0.95 } });
      });

      it("summarises artifacts: count, highest version by semver precedence, last change", async () => {
        await create("resnet", "1.9.0", { createdAt: at(1) });
        await create("resnet", "1.10.0", { createdAt: at(2) });
        await create("resnet", "1.10.0-rc.1", { createdAt: at(3) });
        await create("resnet", "0.5.0", { createdAt: at(4) });
        await create("bert", "2.0.0-rc.2", { createdAt: at(5) });
        await create("bert", "2.0.0-rc.10", { createdAt: at(6) });
        await create("bert", "1.0.0", { createdAt: at(7) });
        await create("iris", "0.1.0", { type: "dataset", createdAt: at(8) });
        await move("iris", "production", null, "0.1.0", { at: at(40) });
        expect(await store.listArtifacts()).toEqual([
          {
            name: "bert",
            type: "model",
            createdAt: at(5),
            versionCount: 3,
            latestVersion: "2.0.0-rc.10",
            updatedAt: at(7),
          },
          {
            name: "iris",
            type: "dataset",
            createdAt: at(8),
            versionCount: 1,
            latestVersion: "0.1.0",
            updatedAt: at(40),
          },
          {
            name: "resnet",
            type: "model",
            createdAt: at(1),
            versionCount: 4,
            latestVersion: "1.10.0",
            updatedAt: at(4),
          },
        ]);
      });
    });

    describe("editing a version", () => {
      it("sets and removes tags and rewrites notes, recording the audit event, nothing else changes", async () => {
        const original = await create("resnet", "1.0.0", {
          tags: { stage: "dev", owner: "ada" },
          notes: "first",
        });
        const event = audit(
          "version.tag",
          "resnet",
          "resnet@1.0.0",
          { stage: "dev", owner: "ada" },
          { stage: "prod", owner: null },
        );
        const tagged = await store.updateVersion(
          "resnet",
          "1.0.0",
          { tags: { set: { stage: "prod", reviewed: "yes" }, remove: ["owner", "absent"] } },
          event,
        );
        expect(tagged).toEqual({ ...original, tags: { stage: "prod", reviewed: "yes" } });
        const noted = await store.updateVersion(
          "resnet",
          "1.0.0",
          { notes: "second" },
          audit("version.notes", "resnet", "resnet@1.0.0", "first", "second"),
        );
        expect(noted).toEqual({ ...original, tags: { stage: "prod", reviewed: "yes" }, notes: "second" });
        expect(await store.getVersion("resnet", "1.0.0")).toEqual(noted);
        const log = withoutIds(await store.listAudit({ limit: 2 }));
        expect(log).toEqual([audit("version.notes", "resnet", "resnet@1.0.0", "first", "second"), event]);
      });

      it("editing a missing version is NOT_FOUND and records nothing", async () => {
        await create("resnet", "1.0.0");
        const before = await store.listAudit({});
        for (const [artifact, version] of [
          ["resnet", "9.9.9"],
          ["ghost", "1.0.0"],
        ] as const) {
          await expect(
            store.updateVersion(
              artifact,
              version,
              { notes: "x" },
              audit("version.notes", artifact, "x", "", "x"),
            ),
          ).rejects.toMatchObject({ code: "NOT_FOUND" });
        }
        expect(await store.listAudit({})).toEqual(before);
      });
    });

    describe("aliases", () => {
      it("createVersion points its aliases at the new version, recording where each came from", async () => {
        await create("resnet", "1.0.0", { aliases: ["production"], createdAt: at(1), createdBy: "ada" });
        const auditor = aliasAuditor("resnet", "1.1.0");
        const created = await store.createVersion(
          newVersion("resnet", "1.1.0", {
            aliases: ["production", "staging"],
            createdAt: at(2),
            createdBy: "grace",
          }),
          audit("version.create", "resnet", "resnet@1.1.0", null, {}),
          auditor.build,
        );
        expect(created.aliases).toEqual(["production", "staging"]);
        expect(auditor.calls.sort()).toEqual([
          ["production", "1.0.0"],
          ["staging", null],
        ]);
        expect((await store.getVersion("resnet", "1.0.0"))?.aliases).toEqual([]);
        expect(await store.getAlias("resnet", "production")).toEqual({
          artifact: "resnet",
          alias: "production",
          version: "1.1.0",
          protected: false,
          updatedAt: at(2),
        });
        const history = await store.aliasHistory("resnet", "production");
        expect(history.map(({ id: _, ...e }) => e)).toEqual([
          {
            artifact: "resnet",
            alias: "production",
            action: "set",
            from: null,
            to: "1.0.0",
            actor: "ada",
            at: at(1),
            reason: null,
          },
          {
            artifact: "resnet",
            alias: "production",
            action: "set",
            from: "1.0.0",
            to: "1.1.0",
            actor: "grace",
            at: at(2),
            reason: null,
          },
        ]);
        const actions = (await store.listAudit({})).map((e) => [e.action, e.target, e.before, e.after]);
        expect(actions).toContainEqual(["alias.set", "resnet@production", "1.0.0", "1.1.0"]);
        expect(actions).toContainEqual(["alias.set", "resnet@staging", null, "1.1.0"]);
        expect(actions).toContainEqual(["version.create", "resnet@1.1.0", null, {}]);
      });

      it("resolveAlias (optional) answers in one read what getVersion answers, or which part is missing", async () => {
        // A driver may leave it out; core's resolveRef then makes the separate reads.
        if (store.resolveAlias === undefined) return;
        await create("resnet", "1.0.0", { tags: { team: "vision" } });
        await create("resnet", "1.1.0");
        await move("resnet", "production", null, "1.0.0");
        expect(await store.resolveAlias("resnet", "production")).toEqual(
          await store.getVersion("resnet", "1.0.0"),
        );
        await move("resnet", "production", "1.0.0", "1.1.0");
        expect(await store.resolveAlias("resnet", "production")).toEqual(
          await store.getVersion("resnet", "1.1.0"),
        );
        expect(await store.resolveAlias("resnet", "staging")).toBe("no-alias");
        expect(await store.resolveAlias("yolo", "production")).toBe("no-artifact");
        await move("resnet", "production", "1.1.0", null);
        expect(await store.resolveAlias("resnet", "production")).toBe("no-alias");
      });

      it("moves an alias, returning the recorded event", async () => {
        await create("resnet", "1.0.0");
        await create("resnet", "1.1.0");
        const first = await move("resnet", "production", null, "1.0.0", {
          reason: "first release",
          at: at(50),
        });
        expect(first).toEqual({
          id: expect.any(Number),
          artifact: "resnet",
          alias: "production",
          action: "set",
          from: null,
          to: "1.0.0",
          actor: "ada",
          at: at(50),
          reason: "first release",
        });
        const second = await move("resnet", "production", "1.0.0", "1.1.0");
        expect(second.id).toBeGreaterThan(first.id);
        expect((await store.getAlias("resnet", "production"))?.version).toBe("1.1.0");
        expect((await store.getVersion("resnet", "1.1.0"))?.aliases).toEqual(["production"]);
        expect(await store.aliasHistory("resnet", "production")).toEqual([first, second]);
      });

      it("a move from a stale target is CONFLICT and writes nothing", async () => {
        await create("resnet", "1.0.0", { aliases: ["production"] });
        await create("resnet", "1.1.0");
        const before = await snapshot("resnet");
        await expect(move("resnet", "production", "1.1.0", "1.1.0")).rejects.toMatchObject({
          code: "CONFLICT",
        });
        await expect(move("resnet", "production", null, "1.1.0")).rejects.toMatchObject({ code: "CONFLICT" });
        await expect(move("resnet", "staging", "1.0.0", "1.1.0")).rejects.toMatchObject({ code: "CONFLICT" });
        await expect(move("resnet", "production", "1.1.0", null)).rejects.toMatchObject({ code: "CONFLICT" });
        expect(await snapshot("resnet")).toEqual(before);
      });

      it("two moves from the same starting point: exactly one wins", async () => {
        await create("resnet", "1.0.0", { aliases: ["production"] });
        await create("resnet", "1.1.0");
        await create("resnet", "1.2.0");
        const results = await Promise.allSettled([
          move("resnet", "production", "1.0.0", "1.1.0"),
          move("resnet", "production", "1.0.0", "1.2.0"),
        ]);
        const won = results.filter((r) => r.status === "fulfilled");
        expect(won).toHaveLength(1);
        const winner = won[0]?.status === "fulfilled" ? won[0].value : undefined;
        expect((await store.getAlias("resnet", "production"))?.version).toBe(winner?.to);
        expect(await store.aliasHistory("resnet", "production")).toHaveLength(2);
      });

      it("moving to a missing version or in a missing artifact is NOT_FOUND and writes nothing", async () => {
        await create("resnet", "1.0.0");
        const before = await snapshot("resnet");
        await expect(move("resnet", "production", null, "9.0.0")).rejects.toMatchObject({
          code: "NOT_FOUND",
        });
        await expect(move("ghost", "production", null, "1.0.0")).rejects.toMatchObject({ code: "NOT_FOUND" });
        expect(await snapshot("resnet")).toEqual(before);
      });

      it("removing an alias deletes it and records the removal; it can be set again", async () => {
        await create("resnet", "1.0.0", { aliases: ["production"] });
        const removed = await move("resnet", "production", "1.0.0", null, { reason: "incident" });
        expect(removed).toMatchObject({ action: "remove", from: "1.0.0", to: null, reason: "incident" });
        expect(await store.getAlias("resnet", "production")).toBeNull();
        expect(await store.listAliases("resnet")).toEqual([]);
        expect((await store.getVersion("resnet", "1.0.0"))?.aliases).toEqual([]);
        await move("resnet", "production", null, "1.0.0");
        expect((await store.getAlias("resnet", "production"))?.version).toBe("1.0.0");
      });

      it("keeps a linear history: each move starts where the previous one ended", async () => {
        for (const v of ["1.0.0", "1.1.0", "1.2.0"]) await create("resnet", v);
        await move("resnet", "production", null, "1.0.0");
        await move("resnet", "staging", null, "1.2.0");
        await move("resnet", "production", "1.0.0", "1.1.0");
        await move("resnet", "production", "1.1.0", "1.2.0");
        await move("resnet", "production", "1.2.0", "1.1.0", { action: "rollback", reason: "bad latency" });
        await move("resnet", "production", "1.1.0", null);
        await move("resnet", "production", null, "1.2.0");
        const history = await store.aliasHistory("resnet", "production");
        expect(history.map((e) => [e.action, e.from, e.to])).toEqual([
          ["set", null, "1.0.0"],
          ["set", "1.0.0", "1.1.0"],
          ["set", "1.1.0", "1.2.0"],
          ["rollback", "1.2.0", "1.1.0"],
          ["remove", "1.1.0", null],
          ["set", null, "1.2.0"],
        ]);
        for (let i = 1; i < history.length; i++) {
          expect(history[i]?.from).toBe(history[i - 1]?.to);
          expect(history[i]!.id).toBeGreaterThan(history[i - 1]!.id);
        }
        const all = await store.aliasHistory("resnet");
        expect(all).toHaveLength(7);
        expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((a, b) => a - b));
        expect(all.filter((e) => e.alias === "staging").map((e) => e.to)).toEqual(["1.2.0"]);
        expect(await store.aliasHistory("ghost")).toEqual([]);
      });

      it("lists an artifact's aliases by name", async () => {
        await create("resnet", "1.0.0", { aliases: ["staging", "champion"] });
        await create("resnet", "1.1.0", { aliases: ["production"] });
        await create("other", "1.0.0", { aliases: ["production"] });
        expect((await store.listAliases("resnet")).map((a) => [a.alias, a.version])).toEqual([
          ["champion", "1.0.0"],
          ["production", "1.1.0"],
          ["staging", "1.0.0"],
        ]);
        expect(await store.getAlias("resnet", "absent")).toBeNull();
        expect(await store.listAliases("ghost")).toEqual([]);
      });

      it("protects and unprotects an alias, audited; protection survives moves", async () => {
        await create("resnet", "1.0.0", { aliases: ["production"] });
        const event = audit("alias.protect", "resnet", "resnet@production", false, true);
        const protectedAlias = await store.setAliasProtection("resnet", "production", true, event);
        expect(protectedAlias).toMatchObject({ alias: "production", version: "1.0.0", protected: true });
        expect(withoutIds(await store.listAudit({ limit: 1 }))).toEqual([event]);
        await create("resnet", "1.1.0", { aliases: ["production"] });
        await move("resnet", "production", "1.1.0", "1.0.0", { action: "rollback" });
        expect((await store.getAlias("resnet", "production"))?.protected).toBe(true);
        await store.setAliasProtection(
          "resnet",
          "production",
          false,
          audit("alias.unprotect", "resnet", "x", true, false),
        );
        expect((await store.getAlias("resnet", "production"))?.protected).toBe(false);
      });

      it("a protect that lands between a writer's read and its move is honoured by the move itself", async () => {
        await create("resnet", "1.0.0", { aliases: ["production"] });
        await create("resnet", "1.1.0");
        // The writer reads the alias (unprotected) and plans its move...
        expect((await store.getAlias("resnet", "production"))?.protected).toBe(false);
        // ...an admin protects it meanwhile...
        await store.setAliasProtection(
          "resnet",
          "production",
          true,
          audit("alias.protect", "resnet", "resnet@production", false, true),
        );
        const before = await snapshot("resnet");
        // ...and the move, told its caller may not move protected aliases, is refused in its transaction.
        await expect(
          move("resnet", "production", "1.0.0", "1.1.0", { mayMoveProtected: false }),
        ).rejects.toMatchObject({
          code: "FORBIDDEN",
          message: expect.stringContaining("resnet@production is protected"),
        });
        await expect(
          move("resnet", "production", "1.0.0", null, { mayMoveProtected: false }),
        ).rejects.toMatchObject({
          code: "FORBIDDEN",
        });
        await expect(
          create("resnet", "1.2.0", { aliases: ["production"], mayMoveProtected: false }),
        ).rejects.toMatchObject({
          code: "FORBIDDEN",
        });
        expect(await snapshot("resnet")).toEqual(before);
        // A caller allowed to (an admin) moves it; a new alias is never protected.
        await move("resnet", "production", "1.0.0", "1.1.0", { mayMoveProtected: true });
        await move("resnet", "staging", null, "1.1.0", { mayMoveProtected: false });
        expect((await store.getAlias("resnet", "production"))?.version).toBe("1.1.0");
      });

      it("protecting a missing alias is NOT_FOUND and records nothing", async () => {
        await create("resnet", "1.0.0");
        const before = await store.listAudit({});
        await expect(
          store.setAliasProtection(
            "resnet",
            "production",
            true,
            audit("alias.protect", "resnet", "x", false, true),
          ),
        ).rejects.toMatchObject({ code: "NOT_FOUND" });
        await expect(
          store.setAliasProtection(
            "ghost",
            "production",
            true,
            audit("alias.protect", "ghost", "x", false, true),
          ),
        ).rejects.toMatchObject({ code: "NOT_FOUND" });
        expect(await store.listAudit({})).toEqual(before);
      });
    });

    describe("audit log", () => {
      it("returns events newest first, exactly as recorded, with increasing ids", async () => {
        const first = audit("version.create", "resnet", "resnet@1.0.0", null, {
          files: 1,
          size: 10,
          type: "model",
        });
        await store.createVersion(newVersion("resnet", "1.0.0"), first, () =>
          audit("x", null, "x", null, null),
        );
        const second = {
          ...audit("version.notes", "resnet", "resnet@1.0.0", "", "multi\nline ✓"),
          at: at(9),
          actor: "grace",
        };
        await store.updateVersion("resnet", "1.0.0", { notes: "multi\nline ✓" }, second);
        const log = await store.listAudit({});
        expect(withoutIds(log)).toEqual([second, first]);
        expect(log[0]!.id).toBeGreaterThan(log[1]!.id);
      });

      it("pages newest-first with limit and beforeId, without gaps or overlaps, and filters by artifact", async () => {
        for (let i = 0; i < 7; i++) await create(i % 2 === 0 ? "even" : "odd", `1.${i}.0`);
        const all = await store.listAudit({});
        expect(all).toHaveLength(7);
        const paged: AuditEvent[] = [];
        let beforeId: number | undefined;
        for (;;) {
          const page = await store.listAudit({ limit: 3, ...(beforeId === undefined ? {} : { beforeId }) });
          expect(page.length).toBeLessThanOrEqual(3);
          if (page.length === 0) break;
          paged.push(...page);
          beforeId = page[page.length - 1]!.id;
        }
        expect(paged).toEqual(all);
        const odd = await store.listAudit({ artifact: "odd" });
        expect(odd.map((e) => e.target)).toEqual(["odd@1.5.0", "odd@1.3.0", "odd@1.1.0"]);
        expect(await store.listAudit({ artifact: "odd", limit: 1, beforeId: odd[0]!.id })).toEqual([odd[1]]);
        expect(await store.listAudit({ limit: 0 })).toEqual([]);
      });
    });

    describe("garbage collection roots", () => {
      it("lists the content of every file of every version and every code patch", async () => {
        await create("a", "1.0.0", {
          files: [
            { path: "x", size: 1, mode: 0o644, sha256: sha(1) },
            { path: "y", size: 1, mode: 0o644, sha256: sha(2) },
          ],
          code: {
            remote: null,
            branch: null,
            commit: "b".repeat(40),
            dirty: true,
            patch: sha(3),
            path: null,
          },
        });
        await create("a", "1.1.0", {
          files: [{ path: "x", size: 1, mode: 0o644, sha256: sha(1) }],
          code: {
            remote: null,
            branch: "main",
            commit: "c".repeat(40),
            dirty: false,
            patch: null,
            path: null,
          },
        });
        await create("b", "1.0.0", { files: [{ path: "z", size: 1, mode: 0o644, sha256: sha(4) }] });
        expect(await store.listLiveContent()).toEqual(new Set([sha(1), sha(2), sha(3), sha(4)]));
      });
    });

    describe("tokens", () => {
      const token = (name: string, role: "reader" | "writer" | "admin", n: number) => ({
        name,
        role,
        createdAt: at(n),
        createdBy: "ada",
        secretHash: sha(1000 + n),
      });
      const created = (name: string) => audit("token.create", null, `token:${name}`, null, { role: "x" });

      it("starts with none, creates them by name, and finds one only by the hash of its secret", async () => {
        expect(await store.hasTokens()).toBe(false);
        expect(await store.listTokens()).toEqual([]);
        const ci = await store.createToken(token("ci", "writer", 1), created("ci"));
        expect(ci).toEqual({ name: "ci", role: "writer", createdAt: at(1), createdBy: "ada" });
        await store.createToken(token("ops", "admin", 2), created("ops"));
        await store.createToken(token("bi", "reader", 3), created("bi"));
        expect(await store.hasTokens()).toBe(true);
        expect((await store.listTokens()).map((t) => `${t.name}:${t.role}`)).toEqual([
          "bi:reader",
          "ci:writer",
          "ops:admin",
        ]);
        expect(await store.findTokenByHash(sha(1002))).toEqual({
          name: "ops",
          role: "admin",
          createdAt: at(2),
          createdBy: "ada",
        });
        expect(await store.findTokenByHash(sha(999))).toBeNull();
        // What the store hands out never carries the secret's hash.
        expect(JSON.stringify(await store.listTokens())).not.toContain(sha(1001));
        expect(withoutIds(await store.listAudit({ limit: 1 }))).toEqual([created("bi")]);
      });

      it("a taken name or secret is CONFLICT and records nothing", async () => {
        await store.createToken(token("ci", "writer", 1), created("ci"));
        const before = await store.listAudit({});
        await expect(store.createToken(token("ci", "reader", 2), created("ci"))).rejects.toMatchObject({
          code: "CONFLICT",
        });
        await expect(
          store.createToken({ ...token("other", "reader", 3), secretHash: sha(1001) }, created("other")),
        ).rejects.toMatchObject({ code: "CONFLICT" });
        expect(await store.listAudit({})).toEqual(before);
        expect((await store.listTokens()).map((t) => t.name)).toEqual(["ci"]);
      });

      it("revokes by name, audited from the revoked token; its secret stops matching and its name is free", async () => {
        await store.createToken(token("ci", "writer", 1), created("ci"));
        const revoked = await store.revokeToken("ci", (t) =>
          audit("token.revoke", null, `token:${t.name}`, { role: t.role }, null),
        );
        expect(revoked).toMatchObject({ name: "ci", role: "writer" });
        expect(await store.findTokenByHash(sha(1001))).toBeNull();
        expect(await store.hasTokens()).toBe(false);
        expect(withoutIds(await store.listAudit({ limit: 1 }))).toEqual([
          audit("token.revoke", null, "token:ci", { role: "writer" }, null),
        ]);
        const before = await store.listAudit({});
        await expect(
          store.revokeToken("ci", () => audit("token.revoke", null, "token:ci", null, null)),
        ).rejects.toMatchObject({ code: "NOT_FOUND" });
        expect(await store.listAudit({})).toEqual(before);
        await store.createToken(token("ci", "reader", 4), created("ci"));
        expect((await store.findTokenByHash(sha(1004)))?.role).toBe("reader");
      });
    });
  });
}
