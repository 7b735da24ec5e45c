/**
 * @module Turns PostgreSQL's errors (SQLSTATE codes) and connection failures into cairn's coded errors, so no
 * raw driver error reaches a user, and says which failures a transaction may simply retry.
 */
import { CairnError, conflict, integrity, invalid, isCairnError } from "@cairn/core";

/** The SQLSTATE of a server error, or the errno code (ECONNREFUSED …) of a socket error, if any. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** A unique or primary-key violation: another row (maybe another server's) already holds the key. */
export const isUniqueViolation = (error: unknown): boolean => sqlState(error) === "23505";

/** The constraint a violation names, to tell which rule a statement broke. */
export const violatedConstraint = (error: unknown): string | undefined => {
  const name = (error as { constraint?: unknown } | null)?.constraint;
  return typeof name === "string" ? name : undefined;
};

/**
 * Failures that say nothing about the request, only about its timing against another transaction: a
 * serialization failure or a deadlock. The whole transaction runs again.
 */
export function isRetryable(error: unknown): boolean {
  const code = sqlState(error);
  return code === "40001" || code === "40P01";
}

// A socket's errno name (ECONNREFUSED, EPIPE …); no SQLSTATE class starts with E.
const ERRNO = /^E[A-Z]+$/;

/** A failure to reach the server: a socket error, or the client's own connect timeout or lost connection. */
function isUnreachable(error: unknown): boolean {
  const code = sqlState(error);
  if (code !== undefined) return ERRNO.test(code);
  return error instanceof Error && /connect|terminated|timeout/i.test(error.message);
}

/** `where` names the database for messages, without its password. */
export function toCairnError(error: unknown, doing: string, where: string): unknown {
  if (isCairnError(error)) return error;
  const detail = error instanceof Error ? error.message : String(error);
  const reach = { hint: "check that PostgreSQL is running and that the database URL is right", cause: error };
  if (isUnreachable(error)) {
    return new CairnError("INTERNAL", `${doing}: cannot reach PostgreSQL at ${where} (${detail})`, reach);
  }
  const code = sqlState(error);
  // Not from the database: a bug, reported as it is.
  if (code === undefined) return error;
  if (code === "23505") return conflict(`${doing}: it already exists`, { cause: error });
  // Integrity-constraint violations (foreign key, check, not null) and bad data (a NUL character, which
  // PostgreSQL text and jsonb cannot hold; a number out of range) are the caller's input.
  if (code.startsWith("23") || code.startsWith("22")) {
    return invalid(`${doing}: the store rejected the record (${detail})`, { cause: error });
  }
  if (code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03") {
    return new CairnError(
      "INTERNAL",
      `${doing}: lost the connection to PostgreSQL at ${where} (${detail})`,
      reach,
    );
  }
  if (code.startsWith("28")) {
    return new CairnError("INTERNAL", `${doing}: PostgreSQL at ${where} refused the login (${detail})`, {
      hint: "check the user and password in the database URL",
      cause: error,
    });
  }
  if (code === "3D000") {
    return new CairnError("INTERNAL", `${doing}: ${detail} (at ${where})`, {
      hint: "create the database first (createdb NAME), or name an existing one in the database URL",
      cause: error,
    });
  }
  if (code === "42501") {
    return new CairnError("INTERNAL", `${doing}: ${detail} (at ${where})`, {
      hint: "connect as the database's owner, or grant the user CREATE and USAGE on its schema",
      cause: error,
    });
  }
  if (isRetryable(error)) {
    return new CairnError("INTERNAL", `${doing}: the database stayed busy with conflicting writes`, {
      hint: "try again",
      cause: error,
    });
  }
  if (code === "XX001" || code === "XX002") {
    return integrity(`${doing}: the PostgreSQL database is damaged (${detail})`, { cause: error });
  }
  return new CairnError("INTERNAL", `${doing}: PostgreSQL failed (${code}: ${detail})`, { cause: error });
}
