/**
 * @module The HTTP edge of DESIGN §4: every failure is answered `{"error": {"code", "message"}}` with a fitting
 * status. Domain errors carry their code (status from core's `httpStatusOf`); request problems found by
 * Fastify become INVALID (or TOO_LARGE); anything else is logged and answered with a generic 500 that leaks
 * nothing about the server.
 */
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { type ErrorCode, httpStatusOf, isCairnError } from "@cairn/core";
import type {
  ConnectionError,
  FastifyBaseLogger,
  FastifyError,
  FastifyReply,
  FastifyRequest,
  FastifySchemaValidationError,
} from "fastify";

/** Which part of the request failed validation (Fastify's names; its type is not exported). */
type SchemaErrorDataVar = "body" | "headers" | "params" | "querystring";

/**
 * Codes only the HTTP edge gives: a body over the size limit, or a caller over its rate limit, is refused
 * before any domain code runs.
 */
export type HttpErrorCode = ErrorCode | "TOO_LARGE" | "RATE_LIMITED";

/** A refusal the HTTP edge makes itself (not a domain error, so not one of core's codes). */
export class EdgeRefusal extends Error {
  readonly status: number;
  readonly code: HttpErrorCode;
  readonly hint: string | undefined;

  constructor(status: number, code: HttpErrorCode, message: string, options: { hint?: string } = {}) {
    super(message);
    this.name = "EdgeRefusal";
    this.status = status;
    this.code = code;
    this.hint = options.hint;
  }
}

export interface ErrorAnswer {
  error: { code: HttpErrorCode; message: string; hint?: string };
}

interface Answer {
  status: number;
  body: ErrorAnswer;
}

const answer = (status: number, code: HttpErrorCode, message: string, hint?: string): Answer => ({
  status,
  body: { error: { code, message, ...(hint ? { hint } : {}) } },
});

// Fastify's own request errors, reworded for people; their default texts name Fastify internals.
const FASTIFY_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: "the request body is not valid JSON",
  FST_ERR_CTP_EMPTY_JSON_BODY: "the request body is empty but its content-type is application/json",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "the request body's size does not match its content-length",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported content-type: send application/json",
  FST_ERR_BAD_URL: "the URL is not validly percent-encoded",
  FST_ERR_MAX_PARAM_LENGTH: "a part of the URL is too long",
};

function isFastifyClientError(error: FastifyError): boolean {
  return (
    typeof error.code === "string" &&
    error.code.startsWith("FST_") &&
    typeof error.statusCode === "number" &&
    error.statusCode >= 400 &&
    error.statusCode < 500
  );
}

/** A client that hangs up mid-body surfaces as a stream error; it is the client's doing, not a server fault. */
export function isCutShort(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return (
    code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE" || (error as Error)?.message === "aborted"
  );
}

/** Decides the answer for an error; `internal` says whether it is a server fault worth an error log line. */
export function toErrorAnswer(error: unknown, bodyLimit: number): Answer & { internal: boolean } {
  if (isCairnError(error)) {
    const status = httpStatusOf[error.code];
    return { ...answer(status, error.code, error.message, error.hint), internal: status >= 500 };
  }
  if (error instanceof EdgeRefusal) {
    return { ...answer(error.status, error.code, error.message, error.hint), internal: false };
  }
  const fe = error as FastifyError;
  if (fe?.validation) return { ...answer(400, "INVALID", fe.message), internal: false };
  if (fe?.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
    return {
      ...answer(413, "TOO_LARGE", `the request body is larger than the limit of ${bodyLimit} bytes`),
      internal: false,
    };
  }
  // Nobody is left to read this answer, but it is the client's doing: logged as a refusal, not a fault.
  if (isCutShort(error)) {
    return {
      ...answer(400, "INVALID", "the request was cut short before its body arrived"),
      internal: false,
    };
  }
  if (fe && isFastifyClientError(fe)) {
    const message = FASTIFY_MESSAGES[fe.code] ?? "the request is malformed";
    return { ...answer(fe.statusCode as number, "INVALID", message), internal: false };
  }
  return { ...answer(500, "INTERNAL", "internal error"), internal: true };
}

export function makeErrorHandler(bodyLimit: number) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const { status, body, internal } = toErrorAnswer(error, bodyLimit);
    if (internal) request.log.error({ err: error }, "request failed");
    else request.log.info({ code: body.error.code, message: body.error.message }, "request refused");
    if (internal && body.error.code === "INTERNAL") {
      // The request id lets an operator find the logged cause; the cause itself stays in the log.
      body.error.message = `internal error (request ${request.id})`;
    }
    return reply.status(status).type("application/json; charset=utf-8").send(body);
  };
}

/**
 * Answers what Node's HTTP parser refuses before any route sees it (a malformed request line or header, broken
 * chunked framing, conflicting lengths, headers over the size limit) in the same error shape, then closes the
 * connection: after a framing error nothing more on it can be trusted.
 */
export function answerClientError(error: ConnectionError, socket: Socket, log: FastifyBaseLogger): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const { status, body } =
    error.code === "HPE_HEADER_OVERFLOW"
      ? answer(431, "TOO_LARGE", "the request's headers are larger than the server accepts")
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? answer(408, "INVALID", "the request did not arrive in time")
        : answer(400, "INVALID", "the request is not valid HTTP");
  log.info({ code: error.code, status }, "malformed request refused");
  // Node's own rule: never write into a connection whose current answer has started (`_httpMessage` is the
  // response Node's server attached to the socket; it is not in Node's types).
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const text = JSON.stringify(body);
    // An answer to HEAD has no body (a client would read it as the start of a next answer).
    // (Node hands over the bytes it was parsing as a Buffer; Fastify's type says otherwise.)
    const raw: unknown = error.rawPacket;
    const head = Buffer.isBuffer(raw) && raw.subarray(0, 5).toString("latin1") === "HEAD ";
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${head ? "" : text}`,
    );
  }
  socket.destroy(error);
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const url = request.url.length > 200 ? `${request.url.slice(0, 200)}…` : request.url;
  return reply
    .status(404)
    .send(answer(404, "NOT_FOUND", `no route ${request.method} ${url}`, "see /api/v1/openapi.json").body);
}

const PART_NAMES: Record<SchemaErrorDataVar, string> = {
  body: "body",
  querystring: "query",
  params: "path",
  headers: "header",
};

/** A validation message that names the field: `body.version is required`, `query.limit must be <= 1000`. */
export function formatSchemaErrors(
  errors: FastifySchemaValidationError[],
  dataVar: SchemaErrorDataVar,
): Error {
  const first = errors[0];
  const part = PART_NAMES[dataVar] ?? dataVar;
  if (!first) return new Error(`invalid ${part}`);
  const where = `${part}${first.instancePath
    .split("/")
    .slice(1)
    .map((s) => `.${s.replace(/~1/g, "/").replace(/~0/g, "~")}`)
    .join("")}`;
  const params = first.params as Record<string, unknown>;
  // TypeBox's error records, like Ajv's: `required` and `additionalProperties` name the field in params.
  const named = (key: string): string | undefined => {
    const value = params[key];
    return Array.isArray(value) && typeof value[0] === "string" ? value[0] : undefined;
  };
  const missing = named("requiredProperties");
  if (first.keyword === "required" && missing) return new Error(`${where}.${missing} is required`);
  const unknown = named("additionalProperties");
  if (first.keyword === "additionalProperties" && unknown)
    return new Error(`${where}.${unknown} is not a known field`);
  // A property refused by `additionalProperties: false` is reported at its own path.
  if (first.keyword === "boolean" && first.schemaPath.endsWith("/additionalProperties")) {
    return new Error(`${where} is not a known field`);
  }
  return new Error(`${where} ${first.message ?? "is invalid"}`);
}
