/**
 * @module The search language's recursive-descent parser. Grammar (keywords in any case):
 *
 *   query      := [or] ["order" "by" orderKey ("," orderKey)*] ["limit" NUMBER]
 *   or         := and ("or" and)*
 *   and        := not ("and" not)*
 *   not        := "not" not | "(" or ")" | comparison
 *   comparison := field (OP value | ["not"] "like" STRING | ["not"] "in" "(" value ("," value)* ")")
 *   field      := metrics.KEY | params.KEY | tags.KEY | data | name | artifact | version | created_at
 *                 | status | experiment          (KEY may be quoted: tags."team name")
 *   value      := NUMBER | STRING | NaN | Infinity | -Infinity
 */
import { syntaxError, type Token, tokenize } from "./tokens.js";

export type KeyedScope = "metrics" | "params" | "tags";
export type PlainField = "data" | "name" | "version" | "created_at" | "status" | "experiment";
export type Field = { scope: KeyedScope; key: string } | { scope: PlainField };
export type Comparison = "=" | "!=" | "<" | "<=" | ">" | ">=";
export type Literal = number | string;

export type Condition =
  | { type: "compare"; field: Field; op: Comparison; value: Literal; column: number }
  | { type: "like"; field: Field; pattern: string; negated: boolean; column: number }
  | { type: "in"; field: Field; values: Literal[]; negated: boolean; column: number }
  | { type: "and" | "or"; left: Condition; right: Condition }
  | { type: "not"; inner: Condition };

export interface OrderKey {
  field: Field;
  descending: boolean;
}

export interface SearchQuery {
  /** The text it was parsed from, kept for error messages raised later (e.g. a field that the kind lacks). */
  text: string;
  where: Condition | undefined;
  orderBy: OrderKey[];
  limit: number | undefined;
}

const PLAIN: Record<string, PlainField> = {
  data: "data",
  name: "name",
  artifact: "name",
  version: "version",
  created_at: "created_at",
  status: "status",
  experiment: "experiment",
};
const KEYED = new Set<string>(["metrics", "params", "tags"]);
const COMPARISONS = new Set<string>(["=", "!=", "<", "<=", ">", ">="]);
/** Deep enough for any filter a person writes, shallow enough that a hostile one cannot exhaust the stack. */
const MAX_DEPTH = 64;

export function parseSearch(text: string): SearchQuery {
  return new Parser(text).query();
}

class Parser {
  private readonly tokens: Token[];
  private at = 0;
  private depth = 0;

  constructor(private readonly text: string) {
    this.tokens = tokenize(text);
  }

  query(): SearchQuery {
    let where: Condition | undefined;
    if (!this.isKeyword("order") && !this.isKeyword("limit") && this.peek().kind !== "end") where = this.or();
    const orderBy: OrderKey[] = [];
    if (this.acceptKeyword("order")) {
      this.expectKeyword("by");
      do {
        const field = this.field();
        let descending = false;
        if (this.acceptKeyword("desc")) descending = true;
        else this.acceptKeyword("asc");
        orderBy.push({ field, descending });
      } while (this.accept("comma"));
    }
    let limit: number | undefined;
    if (this.acceptKeyword("limit")) {
      const token = this.peek();
      const n = Number(token.text);
      if (token.kind !== "number" || !Number.isInteger(n) || n < 1) {
        throw this.error(token, "expected a positive whole number after limit");
      }
      this.at++;
      limit = n;
    }
    const rest = this.peek();
    if (rest.kind !== "end") {
      throw this.error(
        rest,
        where === undefined ? "expected a condition" : "expected and, or, order by, limit or the end",
      );
    }
    return { text: this.text, where, orderBy, limit };
  }

  private or(): Condition {
    let left = this.and();
    while (this.acceptKeyword("or")) left = { type: "or", left, right: this.and() };
    return left;
  }

  private and(): Condition {
    let left = this.not();
    while (this.acceptKeyword("and")) left = { type: "and", left, right: this.not() };
    return left;
  }

  private not(): Condition {
    if (++this.depth > MAX_DEPTH) throw this.error(this.peek(), "the filter nests too deeply");
    try {
      if (this.acceptKeyword("not")) return { type: "not", inner: this.not() };
      const open = this.peek();
      if (this.accept("lparen")) {
        const inner = this.or();
        if (!this.accept("rparen"))
          throw this.error(this.peek(), `expected ) to close the ( at column ${open.column}`);
        return inner;
      }
      return this.comparison();
    } finally {
      this.depth--;
    }
  }

  private comparison(): Condition {
    const start = this.peek();
    const field = this.field();
    const negated = this.acceptKeyword("not");
    if (this.acceptKeyword("like")) {
      const token = this.peek();
      if (token.kind !== "string") throw this.error(token, "expected a quoted pattern after like");
      this.at++;
      return { type: "like", field, pattern: token.text, negated, column: start.column };
    }
    if (this.acceptKeyword("in")) {
      if (!this.accept("lparen")) throw this.error(this.peek(), "expected ( after in");
      const values = [this.value()];
      while (this.accept("comma")) values.push(this.value());
      if (!this.accept("rparen")) throw this.error(this.peek(), "expected , or ) in the list");
      return { type: "in", field, values, negated, column: start.column };
    }
    if (negated) throw this.error(this.peek(), "expected like or in after not");
    const op = this.peek();
    if (op.kind !== "op" || !COMPARISONS.has(op.text)) {
      throw this.error(op, "expected a comparison (= != < <= > >=, like, in)");
    }
    this.at++;
    return { type: "compare", field, op: op.text as Comparison, value: this.value(), column: start.column };
  }

  private field(): Field {
    const token = this.peek();
    if (token.kind !== "word")
      throw this.error(token, "expected a field such as metrics.accuracy or tags.team");
    const name = token.text.toLowerCase();
    if (KEYED.has(name)) {
      this.at++;
      const dot = this.peek();
      if (dot.kind !== "op" || dot.text !== ".") throw this.error(dot, `expected . and a key after ${name}`);
      this.at++;
      const key = this.peek();
      if (key.kind !== "word" || key.text === "") throw this.error(key, `expected a key after ${name}.`);
      this.at++;
      return { scope: name as KeyedScope, key: key.text };
    }
    const plain = PLAIN[name];
    if (plain === undefined) {
      throw this.error(
        token,
        `unknown field ${JSON.stringify(token.text)} (use metrics.K, params.K, tags.K, data, name, version, created_at, status or experiment)`,
      );
    }
    this.at++;
    return { scope: plain };
  }

  private value(): Literal {
    const token = this.peek();
    if (token.kind === "string") {
      this.at++;
      return token.text;
    }
    const special = /^([-+]?)(nan|infinity|inf)$/i.exec(token.text);
    if ((token.kind === "word" || token.kind === "number") && special !== null) {
      this.at++;
      if (special[2]?.toLowerCase() === "nan") return Number.NaN;
      return special[1] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    }
    if (token.kind === "number") {
      const n = Number(token.text);
      if (!Number.isFinite(n)) throw this.error(token, "expected a value");
      this.at++;
      return n;
    }
    throw this.error(token, "expected a value");
  }

  private peek(): Token {
    // The tokenizer always ends with an "end" token, so clamping keeps every read in range.
    return this.tokens[Math.min(this.at, this.tokens.length - 1)] as Token;
  }

  private accept(kind: Token["kind"]): boolean {
    if (this.peek().kind !== kind) return false;
    this.at++;
    return true;
  }

  private isKeyword(word: string): boolean {
    const token = this.peek();
    return token.kind === "word" && token.text.toLowerCase() === word;
  }

  private acceptKeyword(word: string): boolean {
    if (!this.isKeyword(word)) return false;
    this.at++;
    return true;
  }

  private expectKeyword(word: string): void {
    if (!this.acceptKeyword(word)) throw this.error(this.peek(), `expected ${word}`);
  }

  private error(token: Token, message: string): Error {
    return syntaxError(this.text, token.column, message);
  }
}
