/**
 * @module The gate every request passes before its route runs (and before its body is read): who is asking
 * (a bearer token, or nobody while the server runs open), whether they are within their rate limit, and
 * whether their role may do what the route does. Routes name their action in `config.access`; the rules
 * themselves are core's `authorize`.
 */
import {
  type Action,
  ANONYMOUS_ACTOR,
  type ApiToken,
  assertAuthorized,
  type CairnError,
  isTokenShaped,
  type Role,
  unauthorized,
} from "@cairn/core";
import { hashToken } from "@cairn/storage";
import type { FastifyReply, FastifyRequest } from "fastify";
import { EdgeRefusal } from "./errors.js";
import { KeptWhileUnchanged } from "./kept-while-unchanged.js";
import type { RateLimiter } from "./rate-limit.js";
import type { Services } from "./services.js";

/** What a route does, for the gate: an action a role is checked for, or `public` (no token needed). */
export type Access = Action | "public";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * The action this route performs. Left out: GET and HEAD are `read`; any other method needs admin, so a
     * route that forgets to say refuses writers rather than letting readers write.
     */
    access?: Access;
  }
  interface FastifyRequest {
    /** The role the request acts with: its token's, or admin while the server runs open. */
    role: Role;
  }
}

/**
 * `auto`: open (every request acts as "anonymous" with every right) while the store has no tokens, enforced
 * from the moment one exists. `required`: always enforced; with no tokens every request is refused. A server
 * reachable from other machines runs `required`, so revoking the last token can never open it.
 */
export type AuthMode = "auto" | "required";

interface Identity {
  actor: string;
  role: Role;
}

interface Caller {
  identity: Identity | null;
  /** Why the request has no identity (answered after the rate limit, so guessing tokens is limited too). */
  refusal: CairnError | null;
  /** The rate-limit bucket: the token's name, or the client's address. */
  bucket: string;
}

const BEARER = /^Bearer[ ]+([^\s]+)[ ]*$/i;
const TOKEN_HINT = "send `Authorization: Bearer <token>` (the cairn CLI: set CAIRN_TOKEN)";

function accessOf(request: FastifyRequest): Access | null {
  // An unknown route is authenticated (nobody learns which routes exist) but needs no role: it answers 404.
  if (request.is404) return null;
  const declared = request.routeOptions.config.access;
  if (declared !== undefined) return declared;
  // Fail closed: a writing route that does not say what it does is for admins only.
  return request.method === "GET" || request.method === "HEAD" ? "read" : "store.maintain";
}

export interface GateOptions {
  services: Services;
  mode: AuthMode;
  limiter: RateLimiter | undefined;
}

export function makeGate({ services, mode, limiter }: GateOptions) {
  // Asked by every request without a token; the answer changes only with a commit (a token created).
  const hasTokens = new KeptWhileUnchanged<boolean>(() => services.store.meta);
  // Who holds a token, by the hash of its secret (no secret is kept): it changes only with a commit (a token
  // created or revoked), so a client sending the same token again is not looked up again.
  const tokens = new KeptWhileUnchanged<ApiToken | null>(() => services.store.meta);
  async function identify(request: FastifyRequest): Promise<Caller> {
    const byAddress = `ip:${request.ip}`;
    const refuse = (message: string, hint = TOKEN_HINT): Caller => ({
      identity: null,
      refusal: unauthorized(message, { hint }),
      bucket: byAddress,
    });
    const header = request.headers.authorization;
    if (header === undefined || header === "") {
      if (mode === "auto" && !(await hasTokens.get(request, "", () => services.store.meta.hasTokens()))) {
        return { identity: { actor: ANONYMOUS_ACTOR, role: "admin" }, refusal: null, bucket: byAddress };
      }
      return refuse("this registry needs a bearer token");
    }
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) return refuse("the Authorization header must be `Bearer <token>`");
    // The secret is looked up by its hash through an index: no comparison of secrets happens here, and
    // timing reveals at most a prefix of a hash, which does not help to forge a token.
    const hash = isTokenShaped(token) ? hashToken(token) : null;
    const found =
      hash === null ? null : await tokens.get(request, hash, () => services.store.meta.findTokenByHash(hash));
    if (found === null) {
      return refuse("the bearer token is not valid: unknown or revoked", "ask an admin for a token");
    }
    return {
      identity: { actor: found.name, role: found.role },
      refusal: null,
      bucket: `token:${found.name}`,
    };
  }

  return async function gate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const access = accessOf(request);
    if (access === "public") {
      request.actor = ANONYMOUS_ACTOR;
      request.role = "reader";
      return;
    }
    const caller = await identify(request);
    if (limiter !== undefined) {
      const wait = limiter.take(caller.bucket);
      if (wait > 0) {
        const seconds = Math.max(1, Math.ceil(wait));
        reply.header("retry-after", String(seconds));
        throw new EdgeRefusal(429, "RATE_LIMITED", `too many requests: the limit is ${limiter.perSecond}/s`, {
          hint: `retry after ${seconds} s`,
        });
      }
    }
    if (caller.identity === null) {
      reply.header("www-authenticate", 'Bearer realm="cairn"');
      throw caller.refusal;
    }
    request.actor = caller.identity.actor;
    request.role = caller.identity.role;
    if (caller.identity.actor !== ANONYMOUS_ACTOR) {
      // Every later line about this request (errors, "request completed") says whose token it bore.
      request.log = request.log.child({ actor: request.actor });
      reply.log = request.log;
    }
    // Coarse check before the body is read; finer rules (a protected alias) are the Registry's, with this role.
    if (access !== null) assertAuthorized(request.role, access);
  };
}
