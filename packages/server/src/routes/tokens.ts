/**
 * @module API tokens, for admins: list, create (the answer carries the secret, this once) and revoke. The
 * same use cases `cairn token` runs on an embedded store, through core's Registry.
 */
import { mintToken } from "@cairn/storage";
import {
  ApiToken,
  CreatedToken,
  CreateTokenBody,
  commonErrors,
  ErrorBody,
  TokenList,
  TokenParams,
} from "../schemas.js";
import type { RoutePlugin } from "./_shared.js";

export const tokenRoutes: RoutePlugin = async (app, { services }) => {
  app.get(
    "/tokens",
    {
      schema: {
        summary: "Every API token, by name (never their secrets)",
        tags: ["auth"],
        response: { 200: TokenList, ...commonErrors },
      },
      config: { access: "token.manage" },
    },
    async (request) => ({ items: await services.registry(request).listTokens() }),
  );

  app.post(
    "/tokens",
    {
      schema: {
        summary: "Create a token; its secret is in this answer only and is stored hashed",
        tags: ["auth"],
        body: CreateTokenBody,
        response: { 200: CreatedToken, ...commonErrors, 409: ErrorBody },
      },
      config: { access: "token.manage" },
    },
    async (request, reply) => {
      const { token, secretHash } = mintToken();
      const created = await services
        .registry(request)
        .createToken(request.body.name, request.body.role, secretHash);
      // The secret must not linger in caches between here and the client.
      reply.header("cache-control", "no-store");
      return { token, ...created };
    },
  );

  app.delete(
    "/tokens/:name",
    {
      schema: {
        summary: "Revoke a token: requests bearing it are refused from now on",
        tags: ["auth"],
        params: TokenParams,
        response: { 200: ApiToken, ...commonErrors },
      },
      config: { access: "token.manage" },
    },
    async (request) => services.registry(request).revokeToken(request.params.name),
  );
};
