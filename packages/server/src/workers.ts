/**
 * @module `cairn serve --workers N`: N processes answering on one port, so that a server uses more than one
 * core. node:cluster hands each new connection to the next worker; the primary only starts, watches and stops
 * them and writes their log lines. Each worker is a whole server over the same store: SQLite and the blob folder
 * are shared between processes here exactly as between CLI commands, and every commit serialises in the store.
 *
 * What stays per process: the rate limit (each worker limits on its own, as separate servers behind a load
 * balancer do), and an upload session's in-order hashing of its packs (a file whose packs went to different
 * workers is read back to be checked: correct, slower). What is summed: `/metrics`, which any worker answers
 * with every live worker's counts, plus those a dead worker had when last gathered. Each worker writes its log
 * lines to the stderr they share, in writes that a pipe takes whole (`logDestination`'s `shared`), so lines of
 * different workers do not mix.
 */
import cluster, { type Worker } from "node:cluster";
import { hostname } from "node:os";
import { CairnError } from "@cairn/core";
import pino from "pino";
import { type MetricsCounts, sumCounts } from "./metrics.js";

/** Set in a worker's environment by the primary: how a `cairn serve` process knows it is one. */
const WORKER_MARK = "CAIRN_SERVE_WORKER";
/** How long `/metrics` waits for the other workers' counts: they answer between two requests. */
const COUNTS_WAIT_MS = 5_000;

type Message =
  | { cairn: "listening"; port: number }
  | { cairn: "counts?"; id: number }
  | { cairn: "counts"; id: number; counts: MetricsCounts }
  | { cairn: "counts-failed"; id: number; message: string }
  | { cairn: "stop" };

const isMessage = (value: unknown): value is Message =>
  typeof value === "object" && value !== null && typeof (value as { cairn?: unknown }).cairn === "string";

/** True in a process the primary of `cairn serve --workers N` started. */
export function isServerWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_MARK] === "1";
}

/** A worker's side of the IPC channel. */
export interface WorkerLink {
  /** Answers the primary's requests for this worker's counts with `counts`. */
  provideCounts(counts: () => MetricsCounts): void;
  /** Every live worker's counts, summed (this one's included). */
  countsOfAll(): Promise<MetricsCounts>;
  /** Tells the primary this worker listens on `port`. */
  listening(port: number): void;
  /** Calls `stop` once, when the primary asks this worker to stop or goes away. */
  onStop(stop: () => void): void;
  /**
   * Lets go of the channel, which would otherwise keep this process alive: for when the worker is done, whether
   * it served or failed to start.
   */
  close(): void;
}

export function workerLink(): WorkerLink {
  // A channel closing under a send loses the message, which only a departing primary does.
  const send = (message: Message): void => {
    if (process.connected) process.send!(message);
  };
  let ownCounts: (() => MetricsCounts) | undefined;
  let stopper: (() => void) | undefined;
  let stopped = false;
  const stop = () => {
    if (stopped || !stopper) return;
    stopped = true;
    stopper();
  };
  let nextId = 0;
  const asked = new Map<number, { resolve(c: MetricsCounts): void; reject(e: Error): void }>();

  process.on("message", (message: unknown) => {
    if (!isMessage(message)) return;
    if (message.cairn === "counts?") {
      // The primary gathers every worker's counts for one of them.
      const counts = ownCounts?.();
      if (counts) send({ cairn: "counts", id: message.id, counts });
      else send({ cairn: "counts-failed", id: message.id, message: "a worker is not serving yet" });
    } else if (message.cairn === "counts" || message.cairn === "counts-failed") {
      const waiting = asked.get(message.id);
      asked.delete(message.id);
      if (message.cairn === "counts") waiting?.resolve(message.counts);
      else waiting?.reject(new CairnError("INTERNAL", `cannot sum the workers' metrics: ${message.message}`));
    } else if (message.cairn === "stop") {
      stop();
    }
  });
  // The channel closed: nobody hands this worker connections any more. (When the primary itself dies,
  // node:cluster ends the worker at once, before this runs; then requests in flight are cut, as by a kill.)
  process.on("disconnect", stop);

  return {
    provideCounts(counts) {
      ownCounts = counts;
    },
    countsOfAll() {
      return new Promise((resolve, reject) => {
        const id = ++nextId;
        asked.set(id, { resolve, reject });
        send({ cairn: "counts?", id });
      });
    },
    listening(port) {
      send({ cairn: "listening", port });
    },
    onStop(callback) {
      stopper = callback;
      if (!process.connected) stop();
    },
    close() {
      if (process.connected) process.disconnect();
    },
  };
}

export interface WorkersOptions {
  count: number;
  /** The primary's own lines: workers dying, being replaced. */
  logger: pino.Logger;
}

/** A JSON logger writing to `stream`, its lines carrying `fields`, as the server's request log does. */
export function jsonLogger(
  stream: { write(text: string): void },
  level: string,
  fields: Record<string, string> = {},
): pino.Logger {
  return pino({ level, base: { pid: process.pid, hostname: hostname(), ...fields } }, stream);
}

/** A running set of workers. */
export interface Workers {
  /** The port they share. */
  port: number;
  /** Asks every worker to stop (they finish their requests in flight); `ended` settles once all have exited. */
  stop(): void;
  /**
   * Resolves once every worker has exited after `stop`; rejects with WorkerFailed when the server broke (a
   * replacement worker died before it listened), once the others have stopped.
   */
  ended: Promise<void>;
  /** Kills every worker at once. */
  kill(): void;
}

/** Why a worker that had not yet listened ended: the server cannot start, or go on. */
export class WorkerFailed extends Error {
  constructor(readonly exitCode: number) {
    super(`a server worker exited with ${exitCode} before it listened`);
  }
}

/**
 * Starts `count` workers, one after the other until the first listens (a port in use, or a store that will not
 * open, is then reported once, by it), then the rest. Resolves when all listen; rejects with WorkerFailed if
 * one exits before. Once serving, a worker that dies is logged and replaced; a replacement that dies before it
 * listens stops the whole server (something is broken that another start would not mend).
 */
export async function startWorkers(options: WorkersOptions): Promise<Workers> {
  // Structured clones, not JSON: the counts hold label texts full of quotes.
  cluster.setupPrimary({ serialization: "advanced" });
  const logger = options.logger;
  const live = new Set<Worker>();
  let stopping = false;
  let failure: WorkerFailed | undefined;
  let settle: { resolve(): void; reject(error: Error): void } | undefined;
  const ended = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  ended.catch(() => {});
  const stop = () => {
    stopping = true;
    for (const worker of live) if (worker.isConnected()) worker.send({ cairn: "stop" });
    if (live.size === 0) failure ? settle!.reject(failure) : settle!.resolve();
  };

  // Each worker's counts as last gathered, and the sum of those of workers that have died since: a total never
  // drops below what a scrape saw (a dead worker's counts after its last scrape are lost, as at a restart).
  const lastSeen = new Map<Worker, MetricsCounts>();
  let retired: MetricsCounts | undefined;
  let nextGather = 0;
  // For each gather: the worker that asked, its request id, the counts so far and the workers still to answer.
  const gathers = new Map<
    number,
    { asker: Worker; id: number; counts: MetricsCounts[]; waiting: Set<Worker>; timer: NodeJS.Timeout }
  >();
  const answerGather = (gatherId: number, failed?: string) => {
    const gather = gathers.get(gatherId);
    if (!gather || (gather.waiting.size > 0 && failed === undefined)) return;
    gathers.delete(gatherId);
    clearTimeout(gather.timer);
    if (!gather.asker.isConnected()) return;
    if (failed !== undefined) gather.asker.send({ cairn: "counts-failed", id: gather.id, message: failed });
    else {
      const all = retired ? [...gather.counts, retired] : gather.counts;
      gather.asker.send({ cairn: "counts", id: gather.id, counts: sumCounts(all) });
    }
  };
  const gather = (asker: Worker, id: number) => {
    const gatherId = ++nextGather;
    const waiting = new Set([...live].filter((w) => w.isConnected()));
    const timer = setTimeout(
      () => answerGather(gatherId, `${waiting.size} worker(s) did not answer in time`),
      COUNTS_WAIT_MS,
    );
    gathers.set(gatherId, { asker, id, counts: [], waiting, timer });
    for (const w of waiting) w.send({ cairn: "counts?", id: gatherId });
  };

  const start = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const worker = cluster.fork({ [WORKER_MARK]: "1" });
      let listened = false;
      live.add(worker);
      worker.on("message", (message: unknown) => {
        if (!isMessage(message)) return;
        if (message.cairn === "listening") {
          listened = true;
          resolve(message.port);
        } else if (message.cairn === "counts?") gather(worker, message.id);
        else if (message.cairn === "counts" || message.cairn === "counts-failed") {
          const pending = gathers.get(message.id);
          if (!pending) return;
          pending.waiting.delete(worker);
          if (message.cairn === "counts") {
            pending.counts.push(message.counts);
            if (live.has(worker)) lastSeen.set(worker, message.counts);
          }
          answerGather(message.id, message.cairn === "counts" ? undefined : message.message);
        }
      });
      worker.on("exit", (code, signal) => {
        live.delete(worker);
        const last = lastSeen.get(worker);
        lastSeen.delete(worker);
        if (last) retired = sumCounts(retired ? [retired, last] : [last]);
        // A gather waiting for this worker goes on without it.
        for (const [gatherId, pending] of gathers) if (pending.waiting.delete(worker)) answerGather(gatherId);
        if (!listened) {
          const error = new WorkerFailed(code || 1);
          reject(error);
          if (!stopping) {
            failure = error;
            logger.error({ worker: worker.process.pid, code, signal }, "a new server worker died: stopping");
            stop();
          }
        } else if (!stopping) {
          logger.error(
            { worker: worker.process.pid, code, signal },
            "a server worker died; starting another in its place",
          );
          start().catch(() => {});
        }
        if (stopping && live.size === 0) failure ? settle!.reject(failure) : settle!.resolve();
      });
    });

  const kill = () => {
    stopping = true;
    for (const worker of live) worker.process.kill("SIGKILL");
  };
  try {
    const port = await start();
    await Promise.all(Array.from({ length: options.count - 1 }, start));
    logger.info({ workers: options.count, port }, `serving with ${options.count} worker processes`);
    return { port, stop, ended, kill };
  } catch (error) {
    kill();
    throw error;
  }
}
