/**
 * @module `cairn serve`: the REST API over the embedded store, with JSON logs on stderr, until SIGTERM or
 * SIGINT; then it stops accepting, lets requests in flight finish, closes the store and exits 0. While the
 * store has no tokens the API is open, so it listens on loopback only; any other address needs tokens, and
 * then always enforces them. With `--workers N` this process is the primary of N workers that serve one port
 * (server's workers.ts): each runs this same command, and finds out here that it is a worker.
 */
import { isIP } from "node:net";
import { availableParallelism } from "node:os";
import { CairnError } from "@cairn/core";
import type { Command } from "commander";
import { AlreadyReported } from "../already-reported.js";
import type { Context } from "../context.js";
import { defineCommand, withContext } from "../program.js";
import { localOnly } from "../registry-backend.js";

// More processes than this on one port only queue for the same cores and database.
const MAX_WORKERS = 64;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    throw new CairnError("USAGE", `--port takes a number from 0 to 65535, not ${text}`);
  }
  return port;
}

// Without tokens every request may write, so such an API is reachable from this machine only.
function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
}

const urlOf = (host: string, port: number): string =>
  `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;

/** `--workers`: a count, or `auto` for one per core. */
function parseWorkers(text: string): number {
  if (text === "auto") return availableParallelism();
  const count = Number(text);
  if (!/^\d+$/.test(text) || count < 1 || count > MAX_WORKERS) {
    throw new CairnError("USAGE", `--workers takes auto or a number from 1 to ${MAX_WORKERS}, not ${text}`);
  }
  return count;
}

interface ServeOptions {
  host: string;
  port: string;
  logLevel: string;
  rateLimit: string;
  workers: string;
}

export function registerServe(program: Command): void {
  defineCommand(program, {
    name: "serve",
    description:
      "serve the registry over HTTP: REST /api/v1 (OpenAPI at /api/v1/openapi.json) and /healthz; " +
      "JSON logs on stderr; SIGTERM or Ctrl-C stops it after the requests in flight",
    examples: [
      "cairn serve",
      "cairn serve --port 8080",
      "cairn serve --port 0 --json   # any free port",
      "cairn serve --workers auto    # one process per core on one port",
      "cairn token create --role admin --name ops && cairn serve --host 0.0.0.0",
    ],
  })
    .option(
      "--host <host>",
      "address to listen on; other than loopback only once the store has tokens (`cairn token create`)",
      "127.0.0.1",
    )
    .option("--port <port>", "port to listen on; 0 picks a free one", "7700")
    .option("--log-level <level>", `log level: ${LOG_LEVELS.join(", ")}`, "info")
    .option(
      "--rate-limit <rate>",
      "requests per token (or per address, without one) and process: N/s, N/min or off",
      "2000/s",
    )
    .option(
      "--workers <n>",
      "server processes sharing the port, each a whole server over the store: a number, or auto for one per core",
      "1",
    )
    .action(
      withContext(async (ctx, opts: ServeOptions) => {
        localOnly(ctx, "serve", "it serves a store on this machine");
        const port = parsePort(opts.port);
        const workers = parseWorkers(opts.workers);
        if (!LOG_LEVELS.includes(opts.logLevel)) {
          throw new CairnError("USAGE", `--log-level takes ${LOG_LEVELS.join(", ")}, not ${opts.logLevel}`);
        }
        // Loaded here, so that other commands never load the HTTP stack.
        const server = await import("@cairn/server");
        const rateLimit = server.parseRateLimit(opts.rateLimit);
        const loopback = isLoopback(opts.host);
        const appOptions = { auth: loopback ? ("auto" as const) : ("required" as const), rateLimit };

        if (server.isServerWorker()) {
          // Started by a primary below: serve, say so over IPC, and stop when it asks (or on a signal).
          const link = server.workerLink();
          const log = server.logDestination(2, { shared: true });
          server.tuneGarbageCollectionForServing();
          try {
            await ctx.withStore(async (store) => {
              const app = await listen(server, opts.host, port, {
                store,
                logger: { level: opts.logLevel, stream: log },
                worker: link,
                ...appOptions,
              });
              link.listening(portOf(app, port));
              await untilStopped(async (signal) => {
                app.log.info({ signal }, "shutting down: no new connections; finishing requests in flight");
                await app.close();
              }, link.onStop);
            });
          } finally {
            log.flushSync();
            link.close();
          }
          return;
        }

        // Log lines go to stderr without a blocking write each; whatever is still buffered is written on the
        // way out, also when serving fails.
        const log = server.logDestination(2, { shared: workers > 1 });
        try {
          const hasTokens = await ctx.withStore(async (store) => {
            const has = await store.meta.hasTokens();
            if (!loopback && !has) {
              throw new CairnError(
                "INVALID",
                `refusing to listen on ${opts.host}: the store has no tokens, so anyone who can reach it could write`,
                {
                  hint:
                    "create one first (`cairn token create --role admin --name ops`) and serve again, " +
                    "or listen on 127.0.0.1 (the default)",
                },
              );
            }
            if (workers > 1) return has;
            server.tuneGarbageCollectionForServing();
            // The app gets the open store and leaves closing it to withStore, after the app has closed.
            // Reachable from other machines, auth stays required even if every token is later revoked.
            const app = await listen(server, opts.host, port, {
              store,
              logger: { level: opts.logLevel, stream: log },
              ...appOptions,
            });
            announce(ctx, app.log, opts.host, portOf(app, port), has);
            await untilStopped(async (signal) => {
              app.log.info({ signal }, "shutting down: no new connections; finishing requests in flight");
              await app.close();
            });
            return has;
          });
          if (workers === 1) return;

          // The primary: the store was checked above; each worker opens it for itself.
          const logger = server.jsonLogger(log, opts.logLevel, { role: "primary" });
          let running: Awaited<ReturnType<typeof server.startWorkers>>;
          try {
            running = await server.startWorkers({ count: workers, logger });
          } catch (error) {
            // The worker that failed has printed why, on this stderr.
            if (error instanceof server.WorkerFailed) throw new AlreadyReported(error.exitCode);
            throw error;
          }
          announce(ctx, logger, opts.host, running.port, hasTokens);
          const signalled = untilStopped(
            async (signal) => {
              logger.info({ signal }, "shutting down: every worker finishes its requests in flight");
              running.stop();
              await running.ended;
            },
            undefined,
            () => running.kill(),
          );
          // Ended by a signal, or by a replacement worker that could not start (it has said why).
          await Promise.race([signalled, running.ended]).catch((error: unknown) => {
            throw error instanceof server.WorkerFailed ? new AlreadyReported(error.exitCode) : error;
          });
        } finally {
          log.flushSync();
        }
      }),
    );
}

type ServerModule = typeof import("@cairn/server");
type AppOptions = Parameters<ServerModule["buildApp"]>[0];
type App = ReturnType<ServerModule["buildApp"]>;

/** Builds the app and listens; a listening failure closes it and says why in the user's words. */
async function listen(server: ServerModule, host: string, port: number, options: AppOptions): Promise<App> {
  const app = server.buildApp(options);
  try {
    await app.listen({ host, port });
  } catch (error) {
    await app.close();
    throw listenError(error, host, port);
  }
  return app;
}

const portOf = (app: App, asked: number): number => {
  const address = app.server.address();
  return typeof address === "object" && address ? address.port : asked;
};

/** Prints the "listening on" line (stdout: what scripts read) and, on stderr, that auth is off. */
function announce(
  ctx: Context,
  log: { warn(fields: object, message: string): void },
  host: string,
  port: number,
  hasTokens: boolean,
): void {
  const url = urlOf(host, port);
  if (!hasTokens) {
    log.warn(
      { auth: "open" },
      "no tokens in the store: the API is open to anyone on this machine (acting as anonymous), so it " +
        "listens on loopback only; `cairn token create` turns auth on",
    );
  }
  ctx.out.result({ url, host, port }, () => `listening on ${url}`);
}

/**
 * Runs `stop` on the first SIGTERM or SIGINT (or when `onOther` calls back: a server worker's primary asks) and
 * resolves when it is done. A second signal exits at once, after `kill` (a primary kills its workers).
 */
function untilStopped(
  stop: (signal: NodeJS.Signals | "primary") => Promise<void>,
  onOther?: (callback: () => void) => void,
  kill?: () => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let stopping = false;
    const begin = (why: NodeJS.Signals | "primary") => {
      stopping = true;
      stop(why).then(() => {
        process.off("SIGTERM", onSignal);
        process.off("SIGINT", onSignal);
        resolve();
      }, reject);
    };
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`${signal} again: exiting without waiting\n`);
        kill?.();
        process.exit(1);
      }
      begin(signal);
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    onOther?.(() => {
      if (!stopping) begin("primary");
    });
  });
}

function listenError(error: unknown, host: string, port: number): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EADDRINUSE") {
    return new CairnError("INVALID", `cannot listen on ${urlOf(host, port)}: the port is in use`, {
      hint: "choose another with --port, or --port 0 for any free one",
    });
  }
  if (code === "EACCES") {
    return new CairnError("INVALID", `cannot listen on ${urlOf(host, port)}: permission denied`, {
      hint: "ports below 1024 need privileges: choose another with --port",
    });
  }
  if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") {
    return new CairnError("INVALID", `cannot listen on ${host}: no such address on this machine`);
  }
  return error;
}
