/**
 * @module Route handlers still running, so that closing waits for them before the store closes. Closing the
 * server waits for open connections only; a handler whose client has gone (a proxy's timeout, a dropped
 * connection) keeps running, and would otherwise meet a closed store ("the metadata store … is closed").
 */
import type { FastifyInstance, RouteOptions } from "fastify";

export class InFlight {
  private running = 0;
  private waiting: (() => void)[] = [];

  /** Wraps every route's handler registered from now on, counting it while its promise is pending. */
  track(app: FastifyInstance): void {
    const started = () => {
      this.running++;
    };
    const finished = () => this.finish();
    app.addHook("onRoute", (route: RouteOptions) => {
      const handler = route.handler;
      route.handler = function (this: FastifyInstance, request, reply) {
        const result = handler.call(this, request, reply) as unknown;
        // Only a promise can outlive its request; a handler that answers at once is left as it is.
        if (result instanceof Promise) {
          started();
          result.then(finished, finished);
        }
        return result;
      };
    });
  }

  /** Resolves once no handler is running. */
  drained(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private finish(): void {
    this.running--;
    if (this.running > 0) return;
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}
