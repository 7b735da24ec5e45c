/**
 * @module How JSON request bodies are read: Fastify's own parser (which refuses `__proto__` and `constructor`
 * poisoning), after a check that the text nests no deeper than MAX_JSON_DEPTH. No real request comes near
 * that depth; refusing it before parsing keeps a hostile body from costing the work of building it.
 */
import { invalid } from "@cairn/core";
import type { FastifyInstance } from "fastify";

export const MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/** Whether JSON `text` opens more than `max` objects or arrays inside each other (strings skipped). */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/** Replaces the app's `application/json` parser with the depth-checked one. */
export function useDepthCheckedJson(app: FastifyInstance, maxDepth = MAX_JSON_DEPTH): void {
  const parse = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if (nestsDeeperThan(body as string, maxDepth)) {
      done(invalid(`the request body nests deeper than ${maxDepth} levels`), undefined);
      return;
    }
    parse(request, body as string, done);
  });
}
