/**
 * @module The routes an app really registers, as Fastify sees them (not a list kept by hand): the OpenAPI test
 * checks the document against them, and the fuzz test fills in their parameters and bodies from their schemas.
 */
import { type BuildAppOptions, buildApp, type CairnApp } from "@cairn/server";

export interface RegisteredRoute {
  method: string;
  /** Fastify's form, e.g. `/api/v1/artifacts/:name/versions/*`. */
  url: string;
  schema: {
    params?: unknown;
    querystring?: unknown;
    body?: unknown;
    hide?: boolean;
  };
}

/**
 * Builds an app over `store` that records every route as it is registered; ready when it returns. HEAD routes
 * Fastify adds for each GET are left out.
 */
export async function appWithRoutes(
  options: BuildAppOptions,
): Promise<{ app: CairnApp; routes: RegisteredRoute[] }> {
  const app = buildApp(options);
  const routes: RegisteredRoute[] = [];
  // The route plugins load when the app gets ready, so a hook added now sees every one of them.
  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === "HEAD") continue;
      routes.push({ method, url: route.url, schema: (route.schema ?? {}) as RegisteredRoute["schema"] });
    }
  });
  await app.ready();
  return { app, routes };
}
