/**
 * @module @cairn/server — `cairn serve`'s HTTP app: REST /api/v1 and its OpenAPI document over a store.
 */
export { API_PREFIX, type BuildAppOptions, buildApp, type CairnApp, DEFAULT_BODY_LIMIT } from "./app.js";
export type { Access, AuthMode } from "./auth.js";
export { EdgeRefusal, type ErrorAnswer, type HttpErrorCode, toErrorAnswer } from "./errors.js";
export { tuneGarbageCollectionForServing } from "./gc-tuning.js";
export { MAX_JSON_DEPTH } from "./json-body.js";
export type { Page } from "./pagination.js";
export { parseRateLimit, type RateLimit } from "./rate-limit.js";
export { logDestination } from "./request-log.js";
export * as runSchemas from "./routes/run-schemas.js";
export * as schemas from "./schemas.js";
export type { ServerStore } from "./services.js";
export {
  isServerWorker,
  jsonLogger,
  startWorkers,
  WorkerFailed,
  type WorkerLink,
  type Workers,
  workerLink,
} from "./workers.js";
