/**
 * @module What the SDK throws: core's CairnError, with the code the server answered (NOT_FOUND, CONFLICT,
 * FORBIDDEN, …), so a script handles a remote failure exactly as an embedded one. `RemoteError` adds the HTTP
 * status and the server's own code where it is one core does not know (TOO_LARGE, RATE_LIMITED).
 */
import { CairnError, type ErrorCode, httpStatusOf } from "@cairn/core";

const isErrorCode = (code: unknown): code is ErrorCode =>
  typeof code === "string" && Object.hasOwn(httpStatusOf, code);

export class RemoteError extends CairnError {
  /** The HTTP status, or 0 when no answer came (the server could not be reached, or the connection dropped). */
  readonly status: number;
  /** The code as the server sent it: `code`, or an HTTP-only one such as TOO_LARGE or RATE_LIMITED. */
  readonly serverCode: string;

  constructor(
    status: number,
    serverCode: string,
    message: string,
    options: { hint?: string; cause?: unknown } = {},
  ) {
    // An HTTP-only code has no core twin: the caller got it wrong (4xx) or the server failed (5xx).
    const code: ErrorCode = isErrorCode(serverCode)
      ? serverCode
      : status >= 400 && status < 500
        ? "INVALID"
        : "INTERNAL";
    super(code, message, options);
    this.name = "RemoteError";
    this.status = status;
    this.serverCode = serverCode;
  }

  /** Worth trying again: no answer, the server failed, or it asked to slow down. */
  get retryable(): boolean {
    return this.status === 0 || this.status >= 500 || this.serverCode === "RATE_LIMITED";
  }
}

interface ErrorShape {
  error?: { code?: unknown; message?: unknown; hint?: unknown };
}

/** The error a failed answer carries, in the server's error shape (or a plain one for a proxy's page). */
export async function errorFrom(response: Response, what: string): Promise<RemoteError> {
  let body: ErrorShape | undefined;
  try {
    body = (await response.json()) as ErrorShape;
  } catch {
    body = undefined;
  }
  const error = body?.error;
  if (error && typeof error.code === "string" && typeof error.message === "string") {
    return new RemoteError(response.status, error.code, error.message, {
      ...(typeof error.hint === "string" ? { hint: error.hint } : {}),
    });
  }
  const code = response.status >= 500 ? "INTERNAL" : response.status === 404 ? "NOT_FOUND" : "INVALID";
  return new RemoteError(response.status, code, `${what}: HTTP ${response.status} ${response.statusText}`);
}

/** The error for a request that got no answer. */
export function unreachable(url: string, cause: unknown): RemoteError {
  const reason =
    cause instanceof Error ? ((cause.cause as Error | undefined)?.message ?? cause.message) : String(cause);
  return new RemoteError(0, "INTERNAL", `no answer from ${url}: ${reason}`, {
    hint: "check the registry URL and that `cairn serve` runs there",
    cause,
  });
}
