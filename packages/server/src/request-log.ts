/**
 * @module How requests are logged: one JSON line per request, written when it has been answered, carrying the
 * request (method, URL, client), the answer (status) and its time. Fastify's default writes a second line on
 * arrival; each line is a system call, and at thousands of requests a second that line cost as much as
 * resolving a ref. A request that never gets an answer still shows in its error line.
 */
import { type FastifyReply, type FastifyRequest, LogController } from "fastify";
import pino from "pino";

/** What POSIX guarantees a pipe takes in one piece: Linux's, and the least any system has (512). */
const PIPE_BUF = 4096;

export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.isLogDisabled(request)) return;
    const line = { req: request, res: reply, responseTime: reply.elapsedTime };
    if (error) reply.log.error({ ...line, err: error }, "request errored");
    else reply.log.info(line, "request completed");
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
