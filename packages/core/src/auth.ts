/**
 * @module Who may do what: the roles (reader < writer < admin), the actions they are checked for, and token
 * names. Pure rules; the server decides who is asking (bearer tokens) and the Registry asks `authorize`.
 */
import { type CairnError, forbidden, invalid } from "./errors.js";

export const ROLES = ["reader", "writer", "admin"] as const;
export type Role = (typeof ROLES)[number];

/**
 * Every action a request is checked for, with the least role that may do it. `alias.move` (set, remove,
 * roll back) needs admin instead when the alias is protected; see `authorize`.
 */
export const ACTION_ROLES = {
  read: "reader",
  "version.push": "writer",
  "version.tag": "writer",
  "version.notes": "writer",
  "alias.move": "writer",
  "run.write": "writer",
  "alias.protect": "admin",
  "token.manage": "admin",
  "store.maintain": "admin",
} as const satisfies Record<string, Role>;
export type Action = keyof typeof ACTION_ROLES;

export interface AuthContext {
  /** For `alias.move`: whether the alias being moved is protected. */
  protectedAlias?: boolean;
}

export type Decision = { allowed: true } | { allowed: false; needs: Role };

const rank = (role: Role): number => ROLES.indexOf(role);

export function isRole(text: unknown): text is Role {
  return typeof text === "string" && (ROLES as readonly string[]).includes(text);
}

export function isAction(text: unknown): text is Action {
  return typeof text === "string" && Object.hasOwn(ACTION_ROLES, text);
}

/** The least role `action` needs in `context`. */
export function requiredRole(action: Action, context: AuthContext = {}): Role {
  if (action === "alias.move" && context.protectedAlias === true) return "admin";
  return ACTION_ROLES[action];
}

/** Whether `role` may do `action`: each role may do everything the roles below it may. */
export function authorize(role: Role, action: Action, context: AuthContext = {}): Decision {
  const needs = requiredRole(action, context);
  return rank(role) >= rank(needs) ? { allowed: true } : { allowed: false, needs };
}

const DOING: Record<Action, string> = {
  read: "read the registry",
  "version.push": "push versions",
  "version.tag": "change tags",
  "version.notes": "change notes",
  "alias.move": "move aliases",
  "run.write": "start, log to or end runs",
  "alias.protect": "protect or unprotect aliases",
  "token.manage": "manage tokens",
  "store.maintain": "maintain the store",
};

/**
 * Throws FORBIDDEN unless `role` may do `action`. `target` names what was asked for (`classifier@production`),
 * so the message says which alias is protected.
 */
export function assertAuthorized(
  role: Role,
  action: Action,
  context: AuthContext = {},
  target?: string,
): void {
  const decision = authorize(role, action, context);
  if (decision.allowed) return;
  const what =
    action === "alias.move" && context.protectedAlias === true
      ? `move the protected alias ${target ?? ""}`.trimEnd()
      : `${DOING[action]}${target === undefined ? "" : ` (${target})`}`;
  throw forbidden(`a ${role} token cannot ${what}: it needs ${decision.needs}`, {
    hint: `ask an admin for a token with role ${decision.needs}`,
  });
}

/**
 * What a driver throws when a move it was told may not touch protected aliases finds the alias protected (in
 * the move's own transaction). The Registry turns it into `assertAuthorized`'s message, which names the role.
 */
export function protectedAliasDenied(target: string): CairnError {
  return forbidden(`${target} is protected: moving it needs admin`, {
    hint: "ask an admin for a token with role admin",
  });
}

// Token names are the actor in audit events and alias history, so they read like user names.
const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** The actor of requests when the server runs without tokens; no token may take its name. */
export const ANONYMOUS_ACTOR = "anonymous";

export function checkTokenName(name: string): string {
  if (!TOKEN_NAME.test(name) || name === ANONYMOUS_ACTOR) {
    throw invalid(`invalid token name ${JSON.stringify(name)}`, {
      hint: `use letters, digits, '.', '_', '@' and '-' (at most 64 characters); "${ANONYMOUS_ACTOR}" is reserved`,
    });
  }
  return name;
}

export function checkRole(role: string): Role {
  if (!isRole(role)) {
    throw invalid(`invalid role ${JSON.stringify(role)}`, { hint: `use ${ROLES.join(", ")}` });
  }
  return role;
}

/** A bearer token as cairn issues it: the prefix makes a leaked one easy to recognise (and to scan for). */
export const TOKEN_PREFIX = "cairn_";
const TOKEN_SHAPE = /^cairn_[A-Za-z0-9_-]{20,200}$/;

/** Whether `text` could be a token cairn issued (checked before it is hashed and looked up). */
export function isTokenShaped(text: string): boolean {
  return TOKEN_SHAPE.test(text);
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A token's stored form is the hex sha256 of the token; the token itself is never stored. */
export function checkSecretHash(hash: string): string {
  if (!SHA256_HEX.test(hash)) throw invalid("a token's secret hash must be 64 lower-case hex digits");
  return hash;
}
