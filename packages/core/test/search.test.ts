/**
 * The search language in pure code: what it parses to, grammar errors that point at the column, and SQL in
 * which no part of the user's text appears (values and keys are bound parameters).
 */
import { compileSearch, parseSearch, postgresDialect, sqliteDialect } from "@cairn/core";
import { describe, expect, it } from "vitest";
import { caught } from "./helpers.js";

function errorOf(query: string): string {
  try {
    parseSearch(query);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`expected ${query} to fail`);
}

describe("search language", () => {
  it("parses the issue's example with and, order by and limit", () => {
    const query = parseSearch(
      "metrics.accuracy > 0.9 and params.lr = 0.01 and tags.team = 'nlp' and data = 'imdb@2.1.0' order by metrics.f1 desc, name limit 10",
    );
    expect(query.limit).toBe(10);
    expect(query.orderBy).toEqual([
      { field: { scope: "metrics", key: "f1" }, descending: true },
      { field: { scope: "name" }, descending: false },
    ]);
    expect(query.where).toMatchObject({
      type: "and",
      right: { type: "compare", field: { scope: "data" }, op: "=", value: "imdb@2.1.0" },
    });
  });

  it("binds tighter with and than with or, and honours parentheses", () => {
    expect(parseSearch("name = 'a' or name = 'b' and version = '1'").where).toMatchObject({
      type: "or",
      right: { type: "and" },
    });
    expect(parseSearch("(name = 'a' or name = 'b') and version = '1'").where).toMatchObject({
      type: "and",
      left: { type: "or" },
    });
  });

  it("reads quote escapes, quoted keys, NaN and infinities", () => {
    expect(parseSearch("tags.team = 'x'' or 1=1 --'").where).toMatchObject({ value: "x' or 1=1 --" });
    expect(parseSearch(`tags."team name" = 'a\\'b'`).where).toMatchObject({
      field: { scope: "tags", key: "team name" },
      value: "a'b",
    });
    expect(parseSearch("metrics.loss = NaN").where).toMatchObject({ value: Number.NaN });
    expect(parseSearch("metrics.loss > -Infinity").where).toMatchObject({ value: Number.NEGATIVE_INFINITY });
    expect(parseSearch("metrics.val/loss <= 1e-3").where).toMatchObject({
      field: { key: "val/loss" },
      value: 0.001,
    });
  });

  it("points grammar errors at the column, with a caret line", () => {
    const message = errorOf("metrics.accuracy > 0.9 and params.lr = ");
    expect(message).toMatch(/^expected a value at column 40\n/);
    expect(message.split("\n")[2]).toBe(`  ${" ".repeat(39)}^`);
    expect(errorOf("metrics.accuracy > 0.9 and")).toMatch(/expected a field .* at column 27/);
    expect(errorOf("tags.team = 'nlp")).toMatch(/unterminated string at column 13/);
    expect(errorOf("nmae = 'x'")).toMatch(/unknown field "nmae" .* at column 1/);
    expect(errorOf("(name = 'a'")).toMatch(/expected \) to close the \( at column 1 at column 12/);
    expect(errorOf("name = 'a' limit 0")).toMatch(/positive whole number after limit at column 18/);
    expect(errorOf("name = 'a'; drop table versions")).toMatch(/unexpected character ";" at column 11/);
    expect(errorOf("metrics = 1")).toMatch(/expected \. and a key after metrics at column 9/);
    caught("INVALID", () => parseSearch("name ="));
  });

  it("refuses filters nested deeply enough to exhaust the stack", () => {
    expect(errorOf(`${"(".repeat(10_000)}name = 'a'${")".repeat(10_000)}`)).toMatch(/nests too deeply/);
  });

  it("compiles to SQL holding none of the user's text, for both dialects", () => {
    const text = `tags."k'; DROP TABLE versions; --" = 'x'' or 1=1 --' and params."p\\"q" like '%;--' order by metrics."m)" desc`;
    for (const dialect of [sqliteDialect, postgresDialect]) {
      for (const kind of ["versions", "runs"] as const) {
        const plan = compileSearch(parseSearch(text), { kind, dialect });
        const statements = [plan.scan, plan.scanned, plan.walk, plan.missing, plan.sorted];
        expect(statements.filter((s) => s !== undefined)).toHaveLength(5);
        for (const statement of statements) {
          const { sql, params } = statement ?? { sql: "", params: [] };
          expect(sql).not.toMatch(/DROP|1=1|;|--/);
          // The count of index entries a scan read holds the sort key alone; the others the filter too.
          const values = statement === plan.scanned ? ["m)"] : ["x' or 1=1 --", 'p"q', "%;--", "m)"];
          expect(params).toEqual(expect.arrayContaining(values));
          if (dialect === postgresDialect) expect(sql).toContain(`$${params.length}`);
          else expect(sql.split("?").length - 1).toBe(params.length);
        }
        expect(plan.sorted.params).toContain("k'; DROP TABLE versions; --");
      }
    }
  });

  it("answers any garbage with INVALID, never another failure", () => {
    const pieces = [
      "metrics.a",
      "params.b",
      "tags.c",
      "data",
      "name",
      "status",
      "(",
      ")",
      "and",
      "or",
      "not",
      "in",
      "like",
      "=",
      "<",
      ">=",
      "!=",
      "'x",
      "''",
      "'y'",
      '"k',
      "1",
      "-1e9",
      "NaN",
      "-Infinity",
      ",",
      ";",
      "order",
      "by",
      "desc",
      "limit",
      "0",
      "5",
      ".",
      "\\",
      "\u0000",
      "é",
    ];
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let i = 0; i < 5000; i++) {
      const text = Array.from({ length: next() % 12 }, () => pieces[next() % pieces.length]).join(
        next() % 3 === 0 ? "" : " ",
      );
      for (const kind of ["versions", "runs"] as const) {
        try {
          compileSearch(parseSearch(text), { kind, dialect: postgresDialect });
        } catch (error) {
          expect((error as { code?: string }).code, text).toBe("INVALID");
        }
      }
    }
  });

  it("walks the sort key's index for one indexed key, and sorts the filter's hits otherwise", () => {
    const plan = (text: string) => compileSearch(parseSearch(text), { kind: "runs", dialect: sqliteDialect });
    const shape = (text: string) => {
      const { scan, scanned, missing } = plan(text);
      return { scan: scan !== undefined, scanned: scanned !== undefined, missing: missing !== undefined };
    };
    // A filter may make the walk long: it is counted, to know when to let the filter drive instead.
    expect(shape("status = 'failed' order by metrics.f1 desc")).toEqual({
      scan: true,
      scanned: true,
      missing: true,
    });
    // Without a filter every entry is a hit; a bound on the sort key means no hit lacks it.
    expect(shape("order by tags.team")).toEqual({ scan: true, scanned: false, missing: true });
    expect(shape("metrics.f1 > 0.5 order by metrics.f1")).toEqual({
      scan: true,
      scanned: true,
      missing: false,
    });
    expect(shape("status = 'failed'")).toEqual({ scan: true, scanned: true, missing: false });
    expect(shape("order by name")).toEqual({ scan: false, scanned: false, missing: false });
    expect(shape("order by metrics.f1 desc, name")).toEqual({ scan: false, scanned: false, missing: false });
    expect(plan("metrics.f1 > 0.5 order by metrics.f1 desc").scan?.sql).toMatch(
      /FROM run_metric_series x WHERE x\.key = \? AND x\.value IS NOT NULL AND x\.value > \? ORDER BY x\.value DESC, x\.run_id DESC/,
    );
  });

  it("refuses a cursor it did not make, or one made for another order", () => {
    const compile = (text: string, cursor: string) =>
      compileSearch(parseSearch(text), { kind: "runs", dialect: sqliteDialect, cursor });
    const cursorOf = (json: unknown) => Buffer.from(JSON.stringify(json)).toString("base64url");
    const good = { o: 'runs: metrics."f1" desc', v: [0.5], i: "r1" };
    expect(compile("order by metrics.f1 desc", cursorOf(good)).scan).toBeDefined();
    expect(
      compile("order by metrics.f1 desc", cursorOf({ ...good, v: [{ n: "Infinity" }] })).scan,
    ).toBeDefined();
    expect(caught("INVALID", () => compile("order by metrics.f1 asc", cursorOf(good))).message).toMatch(
      /another order by/,
    );
    for (const bad of [
      "nope",
      cursorOf({ ...good, v: ["high"] }),
      cursorOf({ ...good, v: [] }),
      cursorOf({ ...good, i: 1.5 }),
    ]) {
      expect(caught("INVALID", () => compile("order by metrics.f1 desc", bad)).message).toMatch(
        /not one a search returned/,
      );
    }
  });

  it("refuses fields a kind lacks and NaN in an ordering", () => {
    caught("INVALID", () =>
      compileSearch(parseSearch("status = 'finished'"), { kind: "versions", dialect: sqliteDialect }),
    );
    caught("INVALID", () =>
      compileSearch(parseSearch("metrics.loss < NaN"), { kind: "runs", dialect: sqliteDialect }),
    );
  });
});
