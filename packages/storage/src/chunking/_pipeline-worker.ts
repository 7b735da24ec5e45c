/**
 * @module The worker thread behind `chunkStream`. In the "chunks" role it finds boundaries and names chunks
 * (`Chunker`); in the "sha256" role it hashes the whole file. Each answers every block, so the stream can
 * bound how many blocks are in flight.
 */

import { createHash, type Hash } from "node:crypto";
import { parentPort } from "node:worker_threads";
import type { PipelineReply, PipelineRequest, WorkerRole } from "./_pipeline-protocol.js";
import { Chunker } from "./chunker.js";

const port = parentPort;
if (!port) throw new Error("_pipeline-worker runs as a worker thread");

let stream = -1;
let role: WorkerRole = "chunks";
let chunker: Chunker | undefined;
let sha256: Hash | undefined;

function handle(request: PipelineRequest): PipelineReply | undefined {
  if (request.type === "start") {
    stream = request.stream;
    role = request.role;
    chunker = role === "chunks" ? new Chunker() : undefined;
    sha256 = role === "sha256" ? createHash("sha256") : undefined;
    return undefined;
  }
  if (request.stream !== stream) return undefined; // left over from an abandoned stream
  if (request.type === "block") {
    if (role === "chunks") return { type: "chunks", stream, chunks: chunker!.push(request.bytes) };
    sha256!.update(request.bytes);
    return { type: "hashed", stream };
  }
  if (role === "chunks") return { type: "chunks", stream, chunks: chunker!.finish() };
  return { type: "sha256", stream, hex: sha256!.digest("hex") };
}

port.on("message", (request: PipelineRequest) => {
  let reply: PipelineReply | undefined;
  try {
    reply = handle(request);
  } catch (error: unknown) {
    reply = {
      type: "failed",
      stream: request.stream,
      message: error instanceof Error ? error.message : String(error),
    };
  }
  if (reply) port.postMessage(reply);
});
