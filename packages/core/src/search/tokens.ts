/**
 * @module The search language's tokenizer: words, dotted field names, numbers, quoted strings and operators,
 * each with the 1-based column it starts at so a grammar error can point at it.
 */
import { invalid } from "../errors.js";

export type TokenKind = "word" | "number" | "string" | "op" | "lparen" | "rparen" | "comma" | "end";

export interface Token {
  kind: TokenKind;
  /** The token's text; for a string, its value with the quote escapes undone. */
  text: string;
  /** 1-based column of the token's first character. */
  column: number;
}

const OPERATORS = ["<=", ">=", "!=", "<>", "=", "<", ">"];

/** A grammar error: the message, then the query with a caret under the column. */
export function syntaxError(query: string, column: number, message: string): Error {
  const caret = `${" ".repeat(Math.max(0, column - 1))}^`;
  return invalid(`${message} at column ${column}\n  ${query}\n  ${caret}`, {
    hint: "e.g. metrics.accuracy > 0.9 and tags.team = 'nlp' order by metrics.f1 desc limit 10",
  });
}

const isWordStart = (c: string): boolean => /[A-Za-z_]/.test(c);
// Keys after `metrics.` may hold dashes and slashes ("val/loss"); a key with anything else is quoted: tags."a b".
const isWordPart = (c: string): boolean => /[A-Za-z0-9_\-/]/.test(c);

export function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < query.length) {
    const c = query.charAt(i);
    const column = i + 1;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "(" || c === ")" || c === ",") {
      tokens.push({ kind: c === "(" ? "lparen" : c === ")" ? "rparen" : "comma", text: c, column });
      i++;
    } else if (c === "'" || c === '"') {
      // SQL-style quoting: a doubled quote stands for itself; a backslash escape is accepted too.
      let value = "";
      let j = i + 1;
      for (;;) {
        if (j >= query.length) throw syntaxError(query, column, "unterminated string");
        const d = query.charAt(j);
        if (d === "\\" && j + 1 < query.length) {
          value += query.charAt(j + 1);
          j += 2;
        } else if (d === c && query.charAt(j + 1) === c) {
          value += c;
          j += 2;
        } else if (d === c) {
          j++;
          break;
        } else {
          value += d;
          j++;
        }
      }
      tokens.push({ kind: c === "'" ? "string" : "word", text: value, column });
      i = j;
    } else if (
      /[0-9]/.test(c) ||
      ((c === "-" || c === "+" || c === ".") && /[0-9.]/.test(query.charAt(i + 1)))
    ) {
      const match = /^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?/.exec(query.slice(i));
      const text = match?.[0] ?? c;
      tokens.push({ kind: "number", text, column });
      i += text.length;
    } else if ((c === "-" || c === "+") && /[A-Za-z]/.test(query.charAt(i + 1))) {
      // -Infinity / +Infinity
      let j = i + 1;
      while (j < query.length && isWordPart(query.charAt(j))) j++;
      tokens.push({ kind: "number", text: query.slice(i, j), column });
      i = j;
    } else if (isWordStart(c)) {
      let j = i;
      while (j < query.length && isWordPart(query.charAt(j))) j++;
      tokens.push({ kind: "word", text: query.slice(i, j), column });
      i = j;
    } else if (c === ".") {
      tokens.push({ kind: "op", text: ".", column });
      i++;
    } else {
      const op = OPERATORS.find((o) => query.startsWith(o, i));
      if (op === undefined) throw syntaxError(query, column, `unexpected character ${JSON.stringify(c)}`);
      tokens.push({ kind: "op", text: op === "<>" ? "!=" : op, column });
      i += op.length;
    }
  }
  tokens.push({ kind: "end", text: "", column: query.length + 1 });
  return tokens;
}
