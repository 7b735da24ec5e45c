/**
 * Lineage on SQLite and PostgreSQL over a graph seeded through the store's own writes — 3 datasets, 5 runs, 6 model versions
 * (one trained on a dataset without a run, one derived from a base model) — walked with core's walkLineage both ways, with a depth limit,
 * and rendered as text, dot and Mermaid.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type LineageEdgeSource,
  lineageDot,
  lineageMermaid,
  lineageText,
  type NewAuditEvent,
  walkLineage,
} from "@cairn/core";
import { openStore, type Store } from "@cairn/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describePostgres } from "./helpers/postgres.js";

const audit = (action: string, target: string): NewAuditEvent => ({
  at: "2024-03-01T12:00:00.000Z",
  actor: "ada",
  action,
  artifact: null,
  target,
  before: null,
  after: null,
});

function runLineageSuite(driver: string, databaseUrl: string | undefined): void {
  let dir: string;
  let store: Store;
  let edges: LineageEdgeSource;

  async function version(
    artifact: string,
    v: string,
    extra: { type?: "model" | "dataset"; run?: string; data?: string[]; base?: string },
  ) {
    await store.meta.createVersion(
      {
        artifact,
        type: extra.type ?? "model",
        version: v,
        createdAt: "2024-03-01T12:00:00.000Z",
        createdBy: "ada",
        files: [],
        params: {},
        metrics: {},
        tags: {},
        notes: "",
        data: extra.data ?? [],
        code: null,
        environment: null,
        run: extra.run ?? null,
        base: extra.base ?? null,
        aliases: [],
      },
      audit("version.create", `${artifact}@${v}`),
      () => audit("alias.set", artifact),
    );
  }

  async function run(id: string, data: string[]) {
    await store.tracking.createRun(
      {
        id,
        experiment: "exp",
        name: id,
        startTime: "2024-03-01T12:00:00.000Z",
        createdBy: "ada",
        params: {},
        tags: {},
        data,
        code: null,
        environment: null,
        command: null,
        lockFiles: {},
      },
      audit("run.start", id),
    );
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "cairn-lineage-"));
    store = await openStore({ home: dir, ...(databaseUrl !== undefined ? { databaseUrl } : {}) });
    const source = store.meta.lineage?.();
    if (source === undefined) throw new Error(`${driver} has no lineage`);
    edges = source;
    for (const name of ["imdb", "squad", "cifar"]) await version(name, "1.0.0", { type: "dataset" });
    await run("r1", ["imdb@1.0.0"]);
    await run("r2", ["imdb@1.0.0", "squad@1.0.0"]);
    await run("r3", ["squad@1.0.0"]);
    await run("r4", ["cifar@1.0.0"]);
    await run("r5", ["cifar@1.0.0"]);
    await version("bert", "1.0.0", { run: "r1", data: ["imdb@1.0.0"] });
    await version("bert", "1.1.0", { run: "r2", data: ["imdb@1.0.0", "squad@1.0.0"] });
    await version("qa", "1.0.0", { run: "r3", data: ["squad@1.0.0"] });
    await version("resnet", "1.0.0", { run: "r4", data: ["cifar@1.0.0"] });
    // Pushed with --data and no run: a direct data edge.
    await version("resnet", "2.0.0", { data: ["cifar@1.0.0"] });
    // Distilled from qa@1.0.0 (`--base`): a base edge, no run.
    await version("qa-small", "1.0.0", { base: "qa@1.0.0" });
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe(`lineage: ${driver}`, () => {
    it("walks down from a dataset to the runs that read it and the versions they produced", async () => {
      const graph = await walkLineage(edges, "imdb@1.0.0", { direction: "down" });
      expect(graph.nodes).toEqual(["bert@1.0.0", "bert@1.1.0", "imdb@1.0.0", "run:r1", "run:r2"]);
      expect(lineageText(graph)).toEqual([
        "imdb@1.0.0 --trained on--> bert@1.0.0",
        "imdb@1.0.0 --trained on--> bert@1.1.0",
        "imdb@1.0.0 --read by--> run:r1",
        "imdb@1.0.0 --read by--> run:r2",
        "run:r1 --produced--> bert@1.0.0",
        "run:r2 --produced--> bert@1.1.0",
      ]);
    });

    it("walks up from a model version to its run and every dataset behind it", async () => {
      const graph = await walkLineage(edges, "bert@1.1.0", { direction: "up" });
      expect(graph.nodes).toEqual(["bert@1.1.0", "imdb@1.0.0", "run:r2", "squad@1.0.0"]);
      const direct = await walkLineage(edges, "resnet@2.0.0", { direction: "up" });
      expect(direct.edges).toEqual([{ from: "cifar@1.0.0", to: "resnet@2.0.0", kind: "data" }]);
    });

    it("stops at the depth asked for, and shows both ways by default", async () => {
      const one = await walkLineage(edges, "run:r4", { depth: 1 });
      expect(one.nodes).toEqual(["cifar@1.0.0", "resnet@1.0.0", "run:r4"]);
      const down1 = await walkLineage(edges, "cifar@1.0.0", { direction: "down", depth: 1 });
      expect(down1.nodes).toEqual(["cifar@1.0.0", "resnet@1.0.0", "resnet@2.0.0", "run:r4", "run:r5"]);
      const isolated = await walkLineage(edges, "nothing@1.0.0");
      expect(lineageText(isolated)).toEqual(["nothing@1.0.0: no lineage recorded"]);
    });

    it("walks a base edge both ways: up to the model it derives from, down to the models derived from it", async () => {
      const up = await walkLineage(edges, "qa-small@1.0.0", { direction: "up" });
      expect(up.nodes).toEqual(["qa-small@1.0.0", "qa@1.0.0", "run:r3", "squad@1.0.0"]);
      expect(lineageText(up)).toContain("qa@1.0.0 --base of--> qa-small@1.0.0");
      const down = await walkLineage(edges, "qa@1.0.0", { direction: "down" });
      expect(down.edges).toEqual([{ from: "qa@1.0.0", to: "qa-small@1.0.0", kind: "base" }]);
      const fromData = await walkLineage(edges, "squad@1.0.0", { direction: "down" });
      expect(fromData.nodes).toContain("qa-small@1.0.0");
    });

    it("renders dot and Mermaid with names quoted", async () => {
      const graph = await walkLineage(edges, "squad@1.0.0", { direction: "down", depth: 1 });
      const dot = lineageDot(graph).join("\n");
      expect(dot).toContain('"squad@1.0.0" -> "run:r3" [label="read by"];');
      expect(dot).toMatch(/^digraph lineage \{[\s\S]*\}$/);
      const mermaid = lineageMermaid(graph);
      expect(mermaid[0]).toBe("flowchart LR");
      expect(mermaid).toContain('  n4["squad@1.0.0"]');
    });
  });
}

runLineageSuite("sqlite", undefined);

await describePostgres("lineage", (db) => {
  runLineageSuite("postgres", db.url);
});
