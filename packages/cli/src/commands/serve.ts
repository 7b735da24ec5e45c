/**
 * @module `cairn serve`: the REST API over the embedded store, with JSON logs on stderr, until SIGTERM or
 * SIGINT; then it stops accepting, lets requests in flight finish, closes the store and exits 0. While the
 * store has no tokens the API is open, so it listens on loopback only; any other address needs tokens, and
 * then always enforces them.
 */
import { isIP } from "node:net";
import { CairnError } from "@cairn/core";
import type { Command } from "commander";
import { defineCommand, withContext } from "../program.js";
import { localOnly } from "../registry-backend.js";

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
      "requests per token (or per address, without one): N/s, N/min or off",
      "2000/s",
    )
    .action(
      withContext(async (ctx, opts: { host: string; port: string; logLevel: string; rateLimit: string }) => {
        localOnly(ctx, "serve", "it serves a store on this machine");
        const port = parsePort(opts.port);
        if (!LOG_LEVELS.includes(opts.logLevel)) {
          throw new CairnError("USAGE", `--log-level takes ${LOG_LEVELS.join(", ")}, not ${opts.logLevel}`);
        }
        // Loaded here, so that other commands never load the HTTP stack.
        const { buildApp, logDestination, parseRateLimit, tuneGarbageCollectionForServing } = await import(
          "@cairn/server"
        );
        tuneGarbageCollectionForServing();
        const rateLimit = parseRateLimit(opts.rateLimit);
        const loopback = isLoopback(opts.host);
        // Log lines go to stderr without a blocking write each; whatever is still buffered is written on the
        // way out, also when serving fails.
        const log = logDestination(2);
        try {
          await ctx.withStore(async (store) => {
            const hasTokens = await store.meta.hasTokens();
            if (!loopback && !hasTokens) {
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
            // The app gets the open store and leaves closing it to withStore, after the app has closed.
            // Reachable from other machines, auth stays required even if every token is later revoked.
            const app = buildApp({
              store,
              logger: { level: opts.logLevel, stream: log },
              auth: loopback ? "auto" : "required",
              rateLimit,
            });
            try {
              await app.listen({ host: opts.host, port });
            } catch (error) {
              await app.close();
              throw listenError(error, opts.host, port);
            }
            const address = app.server.address();
            const actualPort = typeof address === "object" && address ? address.port : port;
            const url = urlOf(opts.host, actualPort);
            if (!hasTokens) {
              // On stderr with the other logs; stdout stays the one "listening on" line scripts read.
              app.log.warn(
                { auth: "open" },
                "no tokens in the store: the API is open to anyone on this machine (acting as anonymous), so it " +
                  "listens on loopback only; `cairn token create` turns auth on",
              );
            }
            ctx.out.result({ url, host: opts.host, port: actualPort }, () => `listening on ${url}`);
            await untilSignal(async (signal) => {
              app.log.info({ signal }, "shutting down: no new connections; finishing requests in flight");
              await app.close();
            });
          });
        } finally {
          log.flushSync();
        }
      }),
    );
}

/** Runs `stop` on the first SIGTERM or SIGINT and resolves when it is done; a second signal exits at once. */
function untilSignal(stop: (signal: NodeJS.Signals) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`${signal} again: exiting without waiting\n`);
        process.exit(1);
      }
      stopping = true;
      stop(signal).then(() => {
        process.off("SIGTERM", onSignal);
        process.off("SIGINT", onSignal);
        resolve();
      }, reject);
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
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
