/**
 * @module The HTTP app: one Fastify instance serving REST /api/v1 over a store, with its OpenAPI document,
 * /healthz, /metrics, the auth gate (bearer tokens, roles, rate limit) and the error shape of DESIGN §4.
 * Everything is wired here; routes live in routes/*.ts.
 */
import { randomUUID } from "node:crypto";
import swagger from "@fastify/swagger";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from "fastify";
import { type AuthMode, makeGate } from "./auth.js";
import { answerClientError, formatSchemaErrors, makeErrorHandler, notFoundHandler } from "./errors.js";
import { InFlight } from "./in-flight.js";
import { MAX_JSON_DEPTH, useDepthCheckedJson } from "./json-body.js";
import { serialize } from "./json-reply.js";
import { Metrics } from "./metrics.js";
import { type RateLimit, RateLimiter } from "./rate-limit.js";
import { directRequestLines, OneLinePerRequest, requestLogger } from "./request-log.js";
import { aliasRoutes } from "./routes/aliases.js";
import { annotationRoutes } from "./routes/annotations.js";
import { artifactRoutes } from "./routes/artifacts.js";
import { auditRoutes } from "./routes/audit.js";
import { fileRoutes } from "./routes/files.js";
import { healthRoutes, openApiRoute } from "./routes/health.js";
import { lineageRoutes } from "./routes/lineage.js";
import { maintenanceRoutes } from "./routes/maintenance.js";
import { metricsRoute } from "./routes/metrics.js";
import { runRoutes } from "./routes/runs.js";
import { searchRoutes } from "./routes/search.js";
import { tokenRoutes } from "./routes/tokens.js";
import { transferRoutes } from "./routes/transfer.js";
import { type ServerStore, Services } from "./services.js";
import { validatorCompiler } from "./validation.js";
import { SERVER_VERSION } from "./version.js";
import type { WorkerLink } from "./workers.js";

export const API_PREFIX = "/api/v1";
/** JSON bodies are small (alias moves, tags, notes); chunk uploads will set their own limit per route. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
const MAX_PARAM_LENGTH = 16 * 1024;

export interface BuildAppOptions {
  /**
   * The store to serve: an open one (the caller closes it, after the app) or a function that opens one
   * (the app calls it when it gets ready and closes the store when it closes).
   */
  store: ServerStore | (() => Promise<ServerStore>);
  /** Fastify's logger option: false (default) for none, true or pino options for JSON logs. */
  logger?: FastifyServerOptions["logger"];
  /**
   * `auto` (default): open while the store has no tokens (every request acts as "anonymous"), bearer tokens
   * enforced once one exists. `required`: always enforced, for a server other machines can reach.
   */
  auth?: AuthMode;
  /** Requests per token (or per client address, without one), per process; left out, no limit. */
  rateLimit?: RateLimit | false;
  bodyLimit?: number;
  /** How deeply a JSON body may nest objects and arrays (default 32). */
  maxJsonDepth?: number;
  /** Set in a worker of `cairn serve --workers N`: its link to the primary, which sums `/metrics`. */
  worker?: WorkerLink;
}

export type CairnApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

// Accept a caller's request id (from a proxy) only when it is short and plain, so it is safe in logs.
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function buildApp(options: BuildAppOptions): CairnApp {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const errorHandler = makeErrorHandler(bodyLimit);
  const app: CairnApp = Fastify({
    logger: options.logger ?? false,
    bodyLimit,
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    },
    schemaErrorFormatter: formatSchemaErrors,
    // A file path may be long (core allows 4096 characters, more once URL-encoded); the schemas bound the
    // other parameters with messages that name them.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Malformed URLs and over-long parameters are refused by the router before any route runs: answer them
    // in the same error shape as everything else.
    frameworkErrors: (error, request, reply) => errorHandler(error, request, reply),
    // And what Node's HTTP parser refuses before Fastify sees a request.
    clientErrorHandler: (error, socket) => answerClientError(error, socket, app.log),
    // While draining, a request that still arrives on an open keep-alive connection is served (with
    // `connection: close`) rather than refused with Fastify's own 503 body, which is not our error shape.
    return503OnClosing: false,
    // One log line per request, when it is answered, and a request's logger only if it is used (request-log.ts).
    logController: new OneLinePerRequest(directRequestLines(options.logger)),
    ...(options.logger ? { childLoggerFactory: requestLogger } : {}),
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  useDepthCheckedJson(app, options.maxJsonDepth ?? MAX_JSON_DEPTH);

  const given = options.store;
  const services = new Services(
    typeof given === "function" ? undefined : given,
    options.worker !== undefined,
  );
  // Closing waits for handlers still running, also ones whose client has gone, before the store closes: the
  // app's own store here, a store it was handed by its caller once close() has resolved.
  const inFlight = new InFlight();
  inFlight.track(app);
  if (typeof given === "function") {
    app.addHook("onReady", () => services.open(given));
    app.addHook("onClose", async () => {
      await inFlight.drained();
      await services.close();
    });
  } else {
    app.addHook("onClose", () => inFlight.drained());
  }

  // Responses are core's shapes already; the response schemas document them, and serialisation stays
  // JSON.stringify so that nothing is dropped or coerced on the way out.
  app.setReplySerializer(serialize);
  app.setSerializerCompiler(() => serialize);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  // Graceful close: Node closes the connections that are idle when close() starts; one whose response was
  // still streaming would otherwise linger in keep-alive until its timeout once that response ends.
  let draining = false;
  app.addHook("preClose", async () => {
    draining = true;
  });

  const metrics = new Metrics();
  metrics.watch(app.server);
  // Counts every answer and, while draining, closes the connection it leaves idle. One hook, called back
  // rather than async: it runs on every request, and a promise per hook showed in profiles.
  app.addHook("onResponse", (request, reply, done) => {
    metrics.observe(
      request.method,
      request.routeOptions.url ?? "unmatched",
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    if (draining) setImmediate(() => app.server.closeIdleConnections());
    done();
  });

  // Who is asking and what they may do, decided before the body is read: an unauthorised upload costs
  // the server nothing.
  const gate = makeGate({
    services,
    mode: options.auth ?? "auto",
    limiter: options.rateLimit ? new RateLimiter(options.rateLimit) : undefined,
  });
  app.decorateRequest("actor", "");
  app.decorateRequest("role", "reader");
  app.decorateRequest("storeMark", "");
  app.addHook("onRequest", (request, reply) => {
    reply.header("x-request-id", request.id);
    return gate(request, reply);
  });

  // Registered before the routes, so its onRoute hook sees every one of them.
  app.register(swagger, {
    // OpenAPI 3.1 schemas are JSON Schema: keep `const` as the validating schemas have it.
    convertConstToEnum: false,
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "cairn",
        version: SERVER_VERSION,
        description:
          "cairn's REST API: artifacts, versions, files, refs, diff, aliases, tags, notes, audit, stats. " +
          "Every route but /healthz takes a bearer token (`cairn token create`) once the registry has any.",
      },
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "a `cairn_…` API token" } },
      },
      security: [{ bearer: [] }],
    },
  });
  app.register(healthRoutes);
  const worker = options.worker;
  worker?.provideCounts(() => metrics.counts());
  const counts = worker ? () => worker.countsOfAll() : async () => metrics.counts();
  app.register(metricsRoute, { services, counts });
  app.register(
    async (api) => {
      api.register(openApiRoute);
      api.register(artifactRoutes, { services });
      api.register(fileRoutes, { services });
      api.register(aliasRoutes, { services });
      api.register(annotationRoutes, { services });
      api.register(auditRoutes, { services });
      api.register(tokenRoutes, { services });
      api.register(transferRoutes, { services });
      api.register(runRoutes, { services });
      api.register(searchRoutes, { services });
      api.register(lineageRoutes, { services });
      api.register(maintenanceRoutes, { services });
    },
    { prefix: API_PREFIX },
  );
  return app;
}
