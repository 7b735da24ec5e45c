/**
 * @module Worker threads for `chunkStream`, kept between streams: starting a thread and compiling its code
 * costs tens of milliseconds, more than chunking a small file. A worker keeps the process alive only while
 * an answer from it is awaited, so an idle one, or one left behind by an abandoned iteration, never does.
 */

import { Worker } from "node:worker_threads";
import type { PipelineReply, PipelineRequest, WorkerRole } from "./_pipeline-protocol.js";

/** Idle workers kept for the next stream: one per stream, and a push and a read may run at once. */
const MAX_IDLE = 2;
const idle: PipelineWorker[] = [];
let lastStream = 0;

interface Waiter {
  resolve: (reply: PipelineReply) => void;
  reject: (error: Error) => void;
}

export class PipelineWorker {
  private readonly worker: Worker;
  private stream = -1;
  private waiters: Waiter[] = [];
  private broken: Error | undefined;

  constructor() {
    // Resolved next to this file in the built output (dist/chunking/), which is what tests and the CLI load.
    this.worker = new Worker(new URL("./_pipeline-worker.js", import.meta.url), {
      // None of the parent's flags: the worker runs only this package's code, and Node refuses to start a
      // worker given V8 options (`node --trace-gc`, `--max-semi-space-size`) or `--input-type` (from
      // `node --input-type=module -e …`), which would fail every push of a process started with them.
      execArgv: [],
    });
    this.worker.on("message", (reply: PipelineReply) => {
      if (reply.stream !== this.stream) return;
      const waiter = this.waiters.shift();
      if (this.waiters.length === 0) this.worker.unref();
      if (reply.type === "failed") waiter?.reject(new Error(`chunking worker: ${reply.message}`));
      else waiter?.resolve(reply);
    });
    this.worker.on("error", (error) => this.fail(error));
    this.worker.on("exit", (code) => this.fail(new Error(`chunking worker exited with code ${code}`)));
    // After the listeners: adding a "message" listener refs the worker again, and a worker started ahead of
    // use (warmUpWorker) and never used would then keep the process from exiting.
    this.worker.unref();
  }

  /** Begins a new stream in `role`; replies to any earlier stream are dropped from now on. */
  start(role: WorkerRole, options: { sha256: boolean; names?: boolean }): void {
    this.stream = ++lastStream;
    this.waiters = [];
    this.post({ type: "start", stream: this.stream, role, ...options });
  }

  /** Sends a block; resolves with the worker's answer for it. */
  block(bytes: Uint8Array): Promise<PipelineReply> {
    return this.request({ type: "block", stream: this.stream, bytes });
  }

  /** Checks chunks back to back in `bytes` against their names, hashing those that match (see the protocol). */
  check(bytes: Uint8Array, lengths: number[], names: string[]): Promise<PipelineReply> {
    return this.request({ type: "check", stream: this.stream, bytes, lengths, names });
  }

  /** Resolves with the sha256 of the blocks sent so far (in the "sha256" role); the stream goes on. */
  mark(): Promise<PipelineReply> {
    return this.request({ type: "mark", stream: this.stream });
  }

  /** The sha256 begins again from no bytes; blocks sent before are hashed into the old one first. */
  restart(): Promise<PipelineReply> {
    return this.request({ type: "restart", stream: this.stream });
  }

  /** Ends the stream; resolves with the file's sha256 (if asked for). */
  end(): Promise<PipelineReply> {
    return this.request({ type: "end", stream: this.stream });
  }

  private request(message: PipelineRequest): Promise<PipelineReply> {
    const reply = new Promise<PipelineReply>((resolve, reject) => {
      if (this.broken) return reject(this.broken);
      if (this.waiters.length === 0) this.worker.ref();
      this.waiters.push({ resolve, reject });
      this.post(message);
    });
    // Callers await replies in order; one that fails while an earlier one is awaited must not go unhandled.
    reply.catch(() => {});
    return reply;
  }

  private post(message: PipelineRequest): void {
    this.worker.postMessage(message);
  }

  private fail(error: Error): void {
    this.broken ??= error;
    this.worker.unref();
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  /** Whether the worker can serve another stream. */
  get healthy(): boolean {
    return this.broken === undefined;
  }

  /** Stops answering for the current stream. */
  detach(): void {
    this.stream = -1;
    this.waiters = [];
    this.worker.unref();
  }

  terminate(): void {
    this.broken ??= new Error("chunking worker terminated");
    void this.worker.terminate();
  }
}

/**
 * Starts a worker for a stream about to begin, unless one is idle already: a thread takes ~60 ms to boot and
 * load its code, which then passes while the caller opens the file and looks up what it needs, instead of
 * while the first blocks wait for their hash.
 */
export function warmUpWorker(): void {
  if (idle.length === 0) idle.push(new PipelineWorker());
}

export function leaseWorker(): PipelineWorker {
  for (let worker = idle.pop(); worker; worker = idle.pop()) {
    if (worker.healthy) return worker;
    worker.terminate();
  }
  return new PipelineWorker();
}

export function releaseWorker(worker: PipelineWorker): void {
  worker.detach();
  if (worker.healthy && idle.length < MAX_IDLE) idle.push(worker);
  else worker.terminate();
}
