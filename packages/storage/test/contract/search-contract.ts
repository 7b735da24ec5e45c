/**
 * The search contract, run by every metadata driver (SQLite, PostgreSQL) on a store seeded through its own
 * write methods: filters over versions and runs mean the same on both, NaN never matches an ordering, paging
 * walks every hit once, and quoting or injection attempts are inert (the table survives, nothing extra matches).
 * Then orders and keyset paging over runs: every order both ways, rows lacking the key last, ties by id, every
 * row exactly once across pages even with runs added between pages, and the same answers whichever way the
 * search runs (walking the sort key's index, or letting a narrow filter drive).
 */
import {
  CairnError,
  type NewAuditEvent,
  SCAN_BUDGET,
  type SearchPage,
  type SearchRequest,
  WALK_MIN_HITS,
} from "@cairn/core";
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

  describe(`search order and paging: ${driver}`, () => {
    let store: Store;
    /** What each paging run holds, by id: the expected orders are computed from it. */
    const seeded = new Map<string, { score?: number; shard?: string; width?: number | string }>();
    const runs = async (query: string, extra: Partial<SearchRequest> = {}): Promise<SearchPage> =>
      store.search.search({ query, kind: "runs", ...extra });
    const ids = async (query: string, extra: Partial<SearchRequest> = {}): Promise<string[]> =>
      (await runs(query, { limit: 1000, ...extra })).hits.map((hit) => (hit.kind === "run" ? hit.id : ""));
    /** Every page of a search, `limit` rows at a time, `between` called after each page. */
    const walk = async (query: string, limit: number, between?: () => Promise<void>): Promise<string[]> => {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 1000; pages++) {
        const page = await runs(query, { limit, cursor });
        seen.push(...page.hits.map((hit) => (hit.kind === "run" ? hit.id : "")));
        if (page.nextCursor === null) return seen;
        cursor = page.nextCursor;
        await between?.();
      }
      throw new Error("paging did not end");
    };
    const startRun = async (id: string, experiment: string, minute: number): Promise<void> => {
      await store.tracking.createRun(
        {
          id,
          experiment,
          name: id,
          startTime: new Date(Date.UTC(2024, 3, 1) + minute * 60_000).toISOString(),
          createdBy: "ada",
          params: {},
          tags: {},
          data: [],
          code: null,
          environment: null,
          command: null,
          lockFiles: {},
        },
        audit("run.start", id),
      );
    };
    const log = (id: string, key: string, value: number) =>
      store.tracking.logToRun(id, {
        // The final metric is the last step's: an earlier step's value must not count.
        metrics: [
          { key, value: 1000, step: 0, timestamp: 1 },
          { key, value, step: 1, timestamp: 2 },
        ],
      });

    /** `all` in the search's order: by value (numbers, then texts), rows without one last, ties by id. */
    const ordered = (
      all: string[],
      value: (id: string) => number | string | undefined,
      descending: boolean,
    ) => {
      const sign = descending ? -1 : 1;
      const rank = (v: number | string | undefined) => (v === undefined ? 2 : typeof v === "number" ? 0 : 1);
      return [...all].sort((a, b) => {
        const [va, vb] = [value(a), value(b)];
        if (rank(va) !== rank(vb)) return rank(va) - rank(vb);
        if (va !== undefined && vb !== undefined && va !== vb) return (va < vb ? -1 : 1) * sign;
        return (a < b ? -1 : 1) * sign;
      });
    };

    beforeAll(async () => {
      store = await open();
      for (let i = 0; i < 40; i++) {
        const id = `p-${String(i).padStart(3, "0")}`;
        await startRun(id, "paging", i);
        const run: { score?: number; shard?: string; width?: number | string } = {};
        if (i % 8 !== 0) run.shard = "abc".charAt(i % 3);
        if (i % 11 !== 0) run.width = i % 10 === 0 ? `w${i % 3}` : i % 4;
        await store.tracking.logToRun(id, {
          ...(run.shard === undefined ? {} : { tags: { shard: run.shard } }),
          ...(run.width === undefined ? {} : { params: { width: JSON.stringify(run.width) } }),
        });
        // Ties on purpose (five values over 40 runs); some runs lack the metric, some diverged (NaN).
        if (i % 6 !== 0) {
          const score = i % 9 === 0 ? Number.NaN : ((i * 7) % 5) / 10;
          await log(id, "score", score);
          if (!Number.isNaN(score)) run.score = score;
        }
        seeded.set(id, run);
      }
    });
    afterAll(async () => {
      await store.close();
    });

    it("orders runs by a final metric both ways, ties by id, runs without it or with NaN last", async () => {
      const mine = [...seeded.keys()];
      const everyone = await ids("", { limit: 1000 });
      const score = (id: string) => seeded.get(id)?.score;
      for (const descending of [true, false]) {
        const dir = descending ? "desc" : "asc";
        expect(await ids(`experiment = 'paging' order by metrics.score ${dir}`)).toEqual(
          ordered(mine, score, descending),
        );
        // Without a filter, every run of the store: the others lack the metric, so they come last.
        expect(await ids(`order by metrics.score ${dir}`)).toEqual(ordered(everyone, score, descending));
        // A bound on the sort key itself.
        expect(await ids(`metrics.score >= 0.2 order by metrics.score ${dir}`)).toEqual(
          ordered(
            mine.filter((id) => (score(id) ?? -1) >= 0.2),
            score,
            descending,
          ),
        );
      }
    });

    it("orders by a tag, a param (numbers, then strings) and created time the same way", async () => {
      const mine = [...seeded.keys()];
      const paging = "experiment = 'paging'";
      for (const descending of [true, false]) {
        const dir = descending ? "desc" : "asc";
        expect(await ids(`${paging} order by tags.shard ${dir}`)).toEqual(
          ordered(mine, (id) => seeded.get(id)?.shard, descending),
        );
        expect(await ids(`${paging} order by params.width ${dir}`)).toEqual(
          ordered(mine, (id) => seeded.get(id)?.width, descending),
        );
        // Start times rise with the id here, so created time orders as the ids do.
        expect(await ids(`${paging} order by created_at ${dir}`)).toEqual(ordered(mine, () => 0, descending));
      }
      // No order by: newest first.
      expect(await ids(paging)).toEqual(ordered(mine, () => 0, true));
    });

    it("pages through every run exactly once, for every order and page size", async () => {
      const queries = [
        "order by metrics.score desc",
        "order by metrics.score",
        "experiment = 'paging' and not tags.shard = 'b' order by metrics.score desc",
        "metrics.score > 0.1 order by metrics.score",
        "experiment = 'paging' order by tags.shard desc",
        "order by tags.shard",
        "experiment = 'paging' order by params.width desc",
        "experiment = 'paging' order by name desc, metrics.score",
        "",
        "experiment = 'paging' order by created_at",
      ];
      for (const query of queries) {
        const all = await ids(query);
        for (const limit of [1, 3, 7])
          expect(await walk(query, limit), `${query}, ${limit} a page`).toEqual(all);
      }
    });

    it("keeps paging stable while runs are added between pages", async () => {
      const score = new Map<string, number | undefined>();
      for (let i = 0; i < 20; i++) {
        const id = `live-${String(i).padStart(3, "0")}`;
        await startRun(id, "live", 100 + i);
        const value = i % 5 === 0 ? undefined : (i % 7) / 7;
        if (value !== undefined) await log(id, "score", value);
        score.set(id, value);
      }
      const before = [...score.keys()];
      for (const dir of ["desc", "asc"]) {
        const query = `experiment = 'live' order by metrics.score ${dir}`;
        let added = 0;
        const seen = await walk(query, 3, async () => {
          // One run that sorts before the page just read and one after it, and one without the metric.
          for (const value of [0, 0.5, 1, undefined]) {
            const id = `live-${dir}-${String(added++).padStart(3, "0")}`;
            await startRun(id, "live", 200 + added);
            if (value !== undefined) await log(id, "score", value);
            score.set(id, value);
          }
        });
        expect(new Set(seen).size, "no run twice").toBe(seen.length);
        for (const id of before) expect(seen).toContain(id);
        // What was seen is in the search's order, added runs included.
        expect(seen).toEqual(ordered(seen, (id) => score.get(id), dir === "desc"));
      }
    });

    it("answers the same when a narrow filter, not the sort key's index, drives the search", async () => {
      // More runs with the metric than a scan reads, of which only a few match the filter.
      const count = SCAN_BUDGET + 50;
      const batch = Array.from({ length: count }, (_, i) => i);
      const value = (i: number) => ((i * 7919) % 1000) / 1000;
      for (const i of batch) {
        const id = `wide-${String(i).padStart(5, "0")}`;
        await startRun(id, i % 100 === 0 ? "needle" : "haystack", 1000 + i);
        await log(id, "depth", value(i));
        // The same narrow set as a tag (a part the filter matches as a set, not a joined column).
        if (i % 100 === 0) {
          await store.tracking.logToRun(id, {
            tags: { pin: "needle", ...(i % 500 === 0 ? { rare: "yes" } : {}) },
          });
        }
      }
      const needles = batch.filter((i) => i % 100 === 0).map((i) => `wide-${String(i).padStart(5, "0")}`);
      const depth = (id: string) => value(Number(id.slice(5)));
      for (const dir of ["desc", "asc"]) {
        const query = `experiment = 'needle' order by metrics.depth ${dir}`;
        const expected = ordered(needles, depth, dir === "desc");
        expect(await ids(query)).toEqual(expected);
        expect(await walk(query, 4)).toEqual(expected);
        const tagged = `tags.pin = 'needle' order by metrics.depth ${dir}`;
        expect(await walk(tagged, 3)).toEqual(expected);
        // Two sets at once, one of them bounding nothing: only hits in both, in order.
        const both = `tags.pin = 'needle' and metrics.depth >= 0.5 order by metrics.depth ${dir}`;
        expect(await walk(both, 2)).toEqual(expected.filter((id) => depth(id) >= 0.5));
        // The creation order (the default is newest first), through the runs' own index.
        const byStart = `tags.pin = 'needle' order by created_at ${dir}`;
        const started = [...needles].sort().reverse();
        expect(await walk(byStart, 4)).toEqual(dir === "desc" ? started : [...started].reverse());
        // Fewer hits in a scan's budget than a walk needs: all hits are sorted instead, to the same answer.
        const rare = needles.filter((id) => Number(id.slice(5)) % 500 === 0);
        expect(rare.length).toBeLessThan(WALK_MIN_HITS);
        expect(await walk(`tags.rare = 'yes' order by metrics.depth ${dir}`, 1)).toEqual(
          ordered(rare, depth, dir === "desc"),
        );
        // And a broad filter over the same runs: the index walk finds them.
        const broad = await ids(`experiment = 'haystack' order by metrics.depth ${dir}`, { limit: 5 });
        expect(broad).toEqual(
          ordered(
            batch.filter((i) => i % 100 !== 0).map((i) => `wide-${String(i).padStart(5, "0")}`),
            depth,
            dir === "desc",
          ).slice(0, 5),
        );
      }
    }, 120_000);

    it("refuses a cursor it did not make, or one from another order, with INVALID", async () => {
      const first = await runs("order by metrics.score desc", { limit: 2 });
      const cursor = first.nextCursor ?? "";
      expect(cursor).not.toBe("");
      const failure = async (query: string, bad: string, kind: "runs" | "versions" = "runs") => {
        try {
          await store.search.search({ query, kind, cursor: bad });
        } catch (error) {
          expect(error).toBeInstanceOf(CairnError);
          expect((error as CairnError).code).toBe("INVALID");
          return (error as CairnError).message;
        }
        throw new Error("expected INVALID");
      };
      expect(await failure("order by metrics.score desc", "not-a-cursor")).toMatch(
        /not one a search returned/,
      );
      expect(await failure("order by metrics.score desc", `${cursor.slice(0, -3)}xyz`)).toMatch(/cursor/);
      expect(await failure("order by metrics.score asc", cursor)).toMatch(/another order by/);
      expect(await failure("order by metrics.score desc", cursor, "versions")).toMatch(/another order by/);
      const forged = Buffer.from(JSON.stringify({ o: 'runs: metrics."score" desc', v: ["x"], i: "p-001" }));
      expect(await failure("order by metrics.score desc", forged.toString("base64url"))).toMatch(
        /not one a search returned/,
      );
    });
  });
}
