/**
 * @module How requests are logged: one JSON line per request, written when it has been answered, carrying the
 * request (method, URL, client), the answer (status) and its time. Fastify's default writes a second line on
 * arrival; each line is a system call, and at thousands of requests a second that line cost as much as
 * resolving a ref. A request that never gets an answer still shows in its error line.
 *
 * The line of a request answered without error is built here rather than by pino, when the server logs as
 * `cairn serve` configures it (JSON lines to a stream, nothing else): the same fields, in the same order, as
 * pino writes them. In a profile of resolving under load, pino's serialising of that line (its serializers,
 * `stringify`, the time) and the child logger Fastify makes for every request were ~15% of the server's busy
 * time. A request's logger is made only when something logs through it (an error, a handler's own line).
 */
import { hostname } from "node:os";
import {
  type FastifyBaseLogger,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from "fastify";
import pino from "pino";

/** What POSIX guarantees a pipe takes in one piece: Linux's, and the least any system has (512). */
const PIPE_BUF = 4096;

type Bindings = Record<string, unknown>;

/**
 * A request's logger, made (as a pino child of the server's) only when first used. Fastify makes one per
 * request for its id; nearly all requests never log through it, the one line about them being written by
 * `OneLinePerRequest`, which reads its bindings from here.
 */
class RequestLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger | RequestLogger,
    private readonly bindings: Bindings,
    private readonly options: object,
  ) {}

  /** The bindings of this logger and those it was made from, as pino writes them (`,"key":value` each). */
  boundFields(): string | undefined {
    if (Object.keys(this.options).length > 0) return undefined; // a level or serializers of its own: pino's
    const above = this.parent instanceof RequestLogger ? this.parent.boundFields() : "";
    if (above === undefined) return undefined;
    let fields = above;
    for (const [key, value] of Object.entries(this.bindings)) {
      if (value !== undefined) fields += `,${JSON.stringify(key)}:${JSON.stringify(value)}`;
    }
    return fields;
  }

  get real(): FastifyBaseLogger {
    // The parent's real logger's child: a RequestLogger's own `child` is lazy again.
    const parent = this.parent instanceof RequestLogger ? this.parent.real : this.parent;
    this.made ??= parent.child(this.bindings, this.options);
    return this.made;
  }

  get level(): string {
    return this.real.level;
  }
  set level(level: string) {
    this.real.level = level;
  }
  child(bindings: Bindings, options: object = {}): FastifyBaseLogger {
    return new RequestLogger(this, bindings, options) as unknown as FastifyBaseLogger;
  }
}

/**
 * The methods that log at a level (callers see a RequestLogger as a FastifyBaseLogger): each makes the request's
 * logger if need be and logs through it.
 */
const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
type LogMethod = (...args: unknown[]) => void;
for (const level of LEVELS) {
  (RequestLogger.prototype as unknown as Record<string, LogMethod>)[level] = function (
    this: RequestLogger,
    ...args: unknown[]
  ) {
    (this.real[level] as LogMethod)(...args);
  };
}

/** Fastify's `childLoggerFactory`: a request's logger, made when first used. */
export function requestLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: object,
): FastifyBaseLogger {
  return new RequestLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
}

/**
 * Where the line of a request answered without error may be written directly: the stream of a logger
 * configured only with a level (at which such lines are written) and a stream, else undefined (pino writes it).
 * The level is the one configured: nothing in cairn changes a server's level while it runs.
 */
export function directRequestLines(
  logger: FastifyServerOptions["logger"],
): { write(line: string): void } | undefined {
  if (typeof logger !== "object" || logger === null) return undefined;
  const { level = "info", stream, ...rest } = logger as { level?: string; stream?: unknown };
  if (Object.keys(rest).length > 0 || typeof (stream as { write?: unknown })?.write !== "function")
    return undefined;
  const value = pino.levels.values[level];
  if (value === undefined || value > pino.levels.values.info!) return undefined;
  return stream as { write(line: string): void };
}

/** pino's own fields of every line, after `level` and `time`: its default `base`. */
const BASE = `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())}`;

/** `,"key":value`, or nothing when the value is undefined (as pino leaves it out). */
const field = (key: string, value: string | number | undefined): string =>
  value === undefined ? "" : `,"${key}":${JSON.stringify(value)}`;

export class OneLinePerRequest extends LogController {
  /** @param direct where a request's line is written without pino, if it may be (`directRequestLines`). */
  constructor(private readonly direct?: { write(line: string): void }) {
    super();
  }

  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.isLogDisabled(request)) return;
    if (error) {
      reply.log.error(
        { req: request, res: reply, responseTime: reply.elapsedTime, err: error },
        "request errored",
      );
      return;
    }
    const bound = this.direct && reply.log instanceof RequestLogger ? reply.log.boundFields() : undefined;
    if (bound === undefined) {
      reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, "request completed");
      return;
    }
    // The fields and their order of pino's line with Fastify's req and res serializers.
    const version = request.headers["accept-version"];
    this.direct!.write(
      `{"level":30,"time":${Date.now()}${BASE}${bound},"req":{"method":${JSON.stringify(request.method)}` +
        `,"url":${JSON.stringify(request.url)}${field("version", typeof version === "string" ? version : undefined)}` +
        `${field("host", request.host)}${field("remoteAddress", request.ip)}` +
        `${field("remotePort", request.socket?.remotePort)}},"res":{"statusCode":${reply.statusCode}}` +
        `,"responseTime":${reply.elapsedTime},"msg":"request completed"}\n`,
    );
  }
}

/**
 * Where a server's log lines go: file descriptor `fd`, written asynchronously. Under load the lines that
 * arrive while a write is under way are written together by the next one, instead of one blocking system
 * call per line. Call `flushSync()` before the process exits, so that no line is lost.
 *
 * Lines are gathered as text and handed to the writer as bytes once per event-loop turn. Bytes, because given
 * text the writer measures the UTF-8 length of everything it holds on every line (up to 16 KiB), which cost
 * more per request than writing the line. Once per turn, because a Buffer per line is memory outside the
 * JavaScript heap that V8 answers with full collections: at 38,000 requests a second that was a 5–10 ms
 * pause about every half second, the whole of resolve's p99.
 *
 * `shared`: other processes write to the same descriptor (the workers of `cairn serve --workers N` share the
 * primary's stderr). Then every write is whole lines and at most PIPE_BUF bytes, which a pipe takes at once,
 * never mixed with another process's (a regular file takes any single write whole); only a line longer than
 * that goes alone and may be.
 */
export function logDestination(
  fd: number,
  options: { shared?: boolean } = {},
): pino.DestinationStream & { flushSync(): void } {
  const destination = pino.destination({
    dest: fd,
    sync: false,
    contentMode: "buffer",
    ...(options.shared ? { maxWrite: PIPE_BUF } : {}),
  });
  // sonic-boom's types know text only; in buffer mode it takes bytes. It joins whole writes, up to maxWrite.
  const write = (text: string) => destination.write(Buffer.from(text) as never);
  let pending: string[] = [];
  let scheduled = false;
  const hand = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const lines = pending;
    pending = [];
    if (!options.shared) {
      write(lines.length === 1 ? (lines[0] as string) : lines.join(""));
      return;
    }
    let from = 0;
    let bytes = 0;
    lines.forEach((line, i) => {
      const length = Buffer.byteLength(line);
      if (bytes + length > PIPE_BUF && i > from) {
        write(lines.slice(from, i).join(""));
        from = i;
        bytes = 0;
      }
      bytes += length;
    });
    write(lines.slice(from).join(""));
  };
  return {
    write: (line: string) => {
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(hand);
      }
    },
    flushSync: () => {
      hand();
      destination.flushSync();
    },
  };
}
