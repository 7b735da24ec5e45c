import { afterAll, describe, expect, it } from "vitest";
import {
  type AliasEventJson,
  type JsonError,
  parseJson,
  type RunResult,
  removeSandboxes,
  sandbox,
  type VersionJson,
  type VersionRow,
} from "./_cli.js";

afterAll(removeSandboxes);

const PROCESSES = 8;
const ROUNDS = 3;

/** A process either succeeded, or failed cleanly with CONFLICT: never a crash, a busy error or a half result. */
function outcome<T>(result: RunResult): { ok: T } | { conflict: string } {
  if (result.code === 0) return { ok: parseJson<T>(result) };
  const error = parseJson<JsonError>(result).error;
  expect(result.code, `${error.code}: ${error.message}`).toBe(1);
  expect(error.code, error.message).toBe("CONFLICT");
  return { conflict: error.message };
}

describe("concurrent writers", () => {
  it("processes pushing the same NAME with --bump at once get different versions, never a duplicate", async () => {
    const s = await sandbox();
    s.write("model.bin", "weights");
    await s.ok(["push", "clf", "model.bin"]);
    const won = new Set<string>(["0.1.0"]);
    let conflicts = 0;

    for (let round = 0; round < ROUNDS; round++) {
      // Different bytes per process, so the pushes also race on storing content, not only on the number.
      const runs = Array.from({ length: PROCESSES }, (_, i) => {
        const file = s.write(`r${round}-p${i}.bin`, `weights of round ${round}, process ${i}`);
        return s.start(["push", "clf", file, "--bump", i % 2 === 0 ? "patch" : "minor", "--json"]);
      });
      for (const result of await Promise.all(runs.map((r) => r.done))) {
        const o = outcome<VersionJson>(result);
        if ("conflict" in o) {
          conflicts++;
          continue;
        }
        expect(won.has(o.ok.version), `${o.ok.version} handed out twice`).toBe(false);
        won.add(o.ok.version);
      }

      // The store is consistent after every round: exactly the versions handed out, each seq once, gapless.
      const rows = await s.json<VersionRow[]>(["list", "clf"]);
      expect(new Set(rows.map((r) => r.version))).toEqual(won);
      expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
      expect((await s.json<Array<{ versionCount: number }>>(["list"]))[0]?.versionCount).toBe(won.size);
    }
    // Each version resolves to itself with the file its pusher sent.
    for (const version of won) {
      const shown = await s.json<VersionJson>(["show", `clf@${version}`]);
      expect(shown.version).toBe(version);
      expect(shown.files).toHaveLength(1);
    }
    expect(won.size + conflicts).toBe(1 + PROCESSES * ROUNDS);
    // Conflicts are allowed, but the retry must make most pushes succeed.
    expect(won.size).toBeGreaterThan((PROCESSES * ROUNDS) / 2);
  });

  it("concurrent alias moves and rollbacks leave a linear history", async () => {
    const s = await sandbox();
    const versions: string[] = [];
    for (let i = 0; i < 4; i++) {
      s.write("model.bin", `weights ${i}`);
      versions.push((await s.json<VersionJson>(["push", "clf", "model.bin"])).version);
    }
    await s.ok(["alias", "set", "clf", "production", versions[0]!]);
    let moves = 1;

    for (let round = 0; round < ROUNDS; round++) {
      const runs = Array.from({ length: PROCESSES }, (_, i) =>
        i % 4 === 3
          ? s.start(["rollback", "clf", "production", "--json"])
          : s.start([
              "alias",
              "set",
              "clf",
              "production",
              versions[(i + round) % versions.length]!,
              "--json",
            ]),
      );
      for (const result of await Promise.all(runs.map((r) => r.done))) {
        if ("ok" in outcome<AliasEventJson>(result)) moves++;
      }

      const history = await s.json<AliasEventJson[]>(["alias", "history", "clf", "production"]);
      expect(history).toHaveLength(moves);
      let previous: string | null = null;
      for (const event of history) {
        expect(event.from, `event ${event.id}: ${event.action} ${event.from} → ${event.to}`).toBe(previous);
        expect(event.to).not.toBe(event.from);
        previous = event.to;
      }
      // The alias is where the last recorded move left it.
      expect((await s.json<VersionJson>(["show", "clf@production"])).version).toBe(previous);
    }
    expect(moves).toBeGreaterThan(ROUNDS);
  });
});
