/**
 * The search contract, run by every metadata driver (SQLite, PostgreSQL) on a store seeded through its own
 * write methods: filters over versions and runs mean the same on both, NaN never matches an ordering, paging
 * walks every hit once, and quoting or injection attempts are inert (the table survives, nothing extra matches).
 */
import { CairnError, type NewAuditEvent, type SearchPage, type SearchRequest } from "@cairn/core";
import type { Store } from "@cairn/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const audit = (action: string, target: string): NewAuditEvent => ({
  at: "2024-03-01T12:00:00.000Z",
  actor: "ada",
  action,
  artifact: null,
  target,
  before: null,
  after: null,
});

interface Seed {
  artifact: string;
  version: string;
  metrics: Record<string, number>;
  params: Record<string, string | number>;
  tags: Record<string, string>;
  data: string[];
  minute: number;
}

const VERSIONS: Seed[] = [
  {
    artifact: "bert",
    version: "1.0.0",
    metrics: { accuracy: 0.91, f1: 0.8 },
    params: { lr: 0.01, opt: "adam" },
    tags: { team: "nlp" },
    data: ["imdb@2.1.0"],
    minute: 1,
  },
  {
    artifact: "bert",
    version: "1.1.0",
    metrics: { accuracy: 0.95, f1: 0.9 },
    params: { lr: 0.001, opt: "sgd" },
    tags: { team: "nlp" },
    data: ["imdb@2.1.0"],
    minute: 2,
  },
  {
    artifact: "bert",
    version: "1.2.0",
    metrics: { accuracy: Number.NaN, f1: 0.7 },
    params: { lr: 0.01 },
    tags: { team: "nlp" },
    data: ["imdb@2.2.0"],
    minute: 3,
  },
  {
    artifact: "resnet",
    version: "1.0.0",
    metrics: { accuracy: 0.97, f1: 0.85 },
    params: { lr: "0.01" },
    tags: { team: "vision", "it's": "quoted; key" },
    data: ["cifar@1.0.0"],
    minute: 4,
  },
  {
    artifact: "resnet",
    version: "2.0.0",
    metrics: { accuracy: Number.POSITIVE_INFINITY },
    params: {},
    tags: { team: "x' or 1=1 --" },
    data: [],
    minute: 5,
  },
];

export function runSearchContract(driver: string, open: () => Promise<Store>): void {
  describe(`search: ${driver}`, () => {
    let store: Store;
    const search = (query: string, extra: Partial<SearchRequest> = {}): Promise<SearchPage> =>
      store.search.search({ query, kind: "versions", ...extra });
    const refs = async (query: string, extra: Partial<SearchRequest> = {}): Promise<string[]> =>
      (await search(query, extra)).hits.map((hit) =>
        hit.kind === "version" ? `${hit.artifact}@${hit.version}` : hit.name,
      );
    const codeOf = async (promise: Promise<unknown>): Promise<string> => {
      try {
        await promise;
      } catch (error) {
        expect(error).toBeInstanceOf(CairnError);
        return (error as CairnError).code;
      }
      throw new Error("expected a failure");
    };

    beforeAll(async () => {
      store = await open();
      for (const seed of VERSIONS) {
        const at = `2024-03-01T12:0${seed.minute}:00.000Z`;
        await store.meta.createVersion(
          {
            artifact: seed.artifact,
            type: "model",
            version: seed.version,
            createdAt: at,
            createdBy: "ada",
            files: [],
            params: seed.params,
            metrics: seed.metrics,
            tags: seed.tags,
            notes: "",
            data: seed.data,
            code: null,
            environment: null,
            run: null,
            aliases: [],
          },
          audit("version.create", `${seed.artifact}@${seed.version}`),
          () => audit("alias.set", seed.artifact),
        );
      }
      for (const [i, [name, status, accuracy, lr, team]] of (
        [
          ["r1", "finished", 0.9, 0.01, "nlp"],
          ["r2", "failed", 0.5, 0.1, "nlp"],
          ["r3", "finished", 0.99, 0.01, "vision"],
        ] as const
      ).entries()) {
        const id = `run-${i}`;
        await store.tracking.createRun(
          {
            id,
            experiment: i < 2 ? "sentiment" : "images",
            name,
            startTime: `2024-03-02T12:0${i}:00.000Z`,
            createdBy: "ada",
            params: { lr },
            tags: { team },
            data: [i < 2 ? "imdb@2.1.0" : "cifar@1.0.0"],
            code: null,
            environment: null,
            command: null,
            lockFiles: {},
          },
          audit("run.start", id),
        );
        await store.tracking.logToRun(id, {
          metrics: [
            { key: "accuracy", value: accuracy / 2, step: 0, timestamp: 1 },
            { key: "accuracy", value: accuracy, step: 1, timestamp: 2 },
          ],
        });
        if (status !== "running")
          await store.tracking.endRun(id, status, "2024-03-02T13:00:00.000Z", audit("run.end", id));
      }
    });
    afterAll(async () => {
      await store.close();
    });

    it("finds versions by metric, param, tag and data together", async () => {
      expect(
        await refs(
          "metrics.accuracy > 0.9 and params.lr = 0.01 and tags.team = 'nlp' and data = 'imdb@2.1.0'",
        ),
      ).toEqual(["bert@1.0.0"]);
    });

    it("supports or, not, parentheses, in and like", async () => {
      expect(await refs("(tags.team = 'vision' or metrics.f1 >= 0.9) order by name, version")).toEqual([
        "bert@1.1.0",
        "resnet@1.0.0",
      ]);
      expect(await refs("not tags.team = 'nlp' and name = 'bert'")).toEqual([]);
      expect(await refs("version in ('1.1.0', '2.0.0') order by version")).toEqual([
        "bert@1.1.0",
        "resnet@2.0.0",
      ]);
      expect(await refs("data like 'IMDB@%' order by version")).toEqual([
        "bert@1.0.0",
        "bert@1.1.0",
        "bert@1.2.0",
      ]);
    });

    it("compares a param as the type it was logged with", async () => {
      // resnet's lr is the string "0.01": a number filter does not match it, a string filter does.
      expect(await refs("params.lr = 0.01 order by version")).toEqual(["bert@1.0.0", "bert@1.2.0"]);
      expect(await refs("params.lr = '0.01'")).toEqual(["resnet@1.0.0"]);
      expect(await refs("params.lr < 0.005")).toEqual(["bert@1.1.0"]);
    });

    it("orders by a metric, versions without it last, and never ranks NaN as a number", async () => {
      expect(await refs("order by metrics.f1 desc")).toEqual([
        "bert@1.1.0",
        "resnet@1.0.0",
        "bert@1.0.0",
        "bert@1.2.0",
        "resnet@2.0.0",
      ]);
      expect(await refs("metrics.accuracy > 0.9 order by metrics.accuracy desc")).toEqual([
        "resnet@2.0.0",
        "resnet@1.0.0",
        "bert@1.1.0",
        "bert@1.0.0",
      ]);
      expect(await refs("metrics.accuracy = NaN")).toEqual(["bert@1.2.0"]);
      expect(await refs("metrics.accuracy = Infinity")).toEqual(["resnet@2.0.0"]);
      expect(await refs("metrics.accuracy < -Infinity")).toEqual([]);
    });

    it("pages with a cursor through every hit once", async () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await search("order by created_at", { limit: 2, cursor });
        seen.push(
          ...page.hits.map((hit) => (hit.kind === "version" ? `${hit.artifact}@${hit.version}` : "")),
        );
        if (page.nextCursor === null) break;
        cursor = page.nextCursor;
      }
      expect(seen).toEqual(VERSIONS.map((seed) => `${seed.artifact}@${seed.version}`));
      expect(await codeOf(search("", { cursor: "not-a-cursor" }))).toBe("INVALID");
    });

    it("keeps quoting and injection attempts inert", async () => {
      expect(await refs("tags.team = 'x'' or 1=1 --'")).toEqual(["resnet@2.0.0"]);
      expect(await refs("tags.team = 'nlp'' or ''1''=''1'")).toEqual([]);
      expect(await refs(`tags."it's" = 'quoted; key'`)).toEqual(["resnet@1.0.0"]);
      expect(await refs(`tags."x') OR 1=1; DROP TABLE versions; --" = 'a'`)).toEqual([]);
      expect(await refs(`metrics."accuracy' OR '1'='1" > 0`)).toEqual([]);
      expect(await refs(`params."lr\\" OR 1=1 --" = 1`)).toEqual([]);
      expect(await refs("name like '%''; DELETE FROM versions; --'")).toEqual([]);
      // Everything is still there.
      expect((await search("", { limit: 100 })).hits).toHaveLength(VERSIONS.length);
    });

    it("answers a bad filter with INVALID", async () => {
      expect(await codeOf(search("metrics.accuracy >"))).toBe("INVALID");
      expect(await codeOf(search("status = 'finished'"))).toBe("INVALID");
      expect(await codeOf(search("metrics.accuracy > 'high'"))).toBe("INVALID");
      expect(await codeOf(search("", { limit: 0 }))).toBe("INVALID");
    });

    it("searches runs by final metric, param, tag, data, status and experiment", async () => {
      const runs = (query: string) => refs(query, { kind: "runs" });
      expect(
        await runs("metrics.accuracy > 0.8 and params.lr = 0.01 order by metrics.accuracy desc"),
      ).toEqual(["r3", "r1"]);
      expect(await runs("status = 'failed'")).toEqual(["r2"]);
      expect(await runs("experiment = 'sentiment' and data = 'imdb@2.1.0' order by name")).toEqual([
        "r1",
        "r2",
      ]);
      expect(await runs("tags.team = 'vision' or tags.team = 'x'' or 1=1 --'")).toEqual(["r3"]);
      expect(await codeOf(runs("version = '1.0.0'"))).toBe("INVALID");
    });
  });
}
