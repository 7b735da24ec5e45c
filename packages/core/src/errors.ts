/**
 * @module Domain errors. Every failure a user can cause carries a stable code; the CLI and the HTTP edge
 * map codes to exit codes and statuses, so the rule lives here once.
 */

export type ErrorCode =
  | "INVALID"
  | "NOT_FOUND"
  | "CONFLICT"
  | "INTEGRITY"
  | "POLICY_DENIED"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "USAGE"
  | "NO_STORE"
  | "INTERNAL";

/** The HTTP status each code answers with (used by the server; kept next to the codes so they cannot drift). */
export const httpStatusOf: Readonly<Record<ErrorCode, number>> = {
  INVALID: 400,
  USAGE: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  POLICY_DENIED: 403,
  NOT_FOUND: 404,
  NO_STORE: 404,
  CONFLICT: 409,
  INTEGRITY: 500,
  INTERNAL: 500,
};

export interface ErrorOptions {
  /** A next step for the user, printed under the message by the CLI. */
  hint?: string;
  cause?: unknown;
}

export class CairnError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CairnError";
    this.code = code;
    this.hint = options.hint;
  }

  toJSON(): { error: { code: ErrorCode; message: string; hint?: string } } {
    return { error: { code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}) } };
  }
}

export const invalid = (message: string, options?: ErrorOptions): CairnError =>
  new CairnError("INVALID", message, options);
export const notFound = (message: string, options?: ErrorOptions): CairnError =>
  new CairnError("NOT_FOUND", message, options);
export const conflict = (message: string, options?: ErrorOptions): CairnError =>
  new CairnError("CONFLICT", message, options);
export const integrity = (message: string, options?: ErrorOptions): CairnError =>
  new CairnError("INTEGRITY", message, options);
export const policyDenied = (message: string, options?: ErrorOptions): CairnError =>
  new CairnError("POLICY_DENIED", message, options);
/** No credentials, or ones that name no one (HTTP 401). */
export const unauthorized = (message: string, options?: ErrorOptions): CairnError =>
  new CairnError("UNAUTHORIZED", message, options);
/** Known credentials whose role may not do this (HTTP 403). */
export const forbidden = (message: string, options?: ErrorOptions): CairnError =>
  new CairnError("FORBIDDEN", message, options);

export function isCairnError(error: unknown, code?: ErrorCode): error is CairnError {
  return error instanceof CairnError && (code === undefined || error.code === code);
}
