/**
 * @module How requests are logged: one JSON line per request, written when it has been answered, carrying the
 * request (method, URL, client), the answer (status) and its time. Fastify's default writes a second line on
 * arrival; each line is a system call, and at thousands of requests a second that line cost as much as
 * resolving a ref. A request that never gets an answer still shows in its error line.
 */
import { type FastifyReply, type FastifyRequest, LogController } from "fastify";
import pino from "pino";

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
 * The lines are handed over as bytes: given text, the writer measures the UTF-8 length of everything it holds
 * on every line (up to 16 KiB), which cost more per request than writing the line.
 */
export function logDestination(fd: number): pino.DestinationStream & { flushSync(): void } {
  const destination = pino.destination({ dest: fd, sync: false, contentMode: "buffer" });
  return {
    // sonic-boom's types know text only; in buffer mode it takes bytes.
    write: (line: string) => destination.write(Buffer.from(line) as never),
    flushSync: () => destination.flushSync(),
  };
}
