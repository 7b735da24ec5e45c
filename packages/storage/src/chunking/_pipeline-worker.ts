/**
 * @module The worker thread behind `chunkStream` and the chunk store's reads. In the "cuts" role it finds
 * chunk boundaries (the gear scan) and hashes the whole file; in the "sha256" role it only hashes. It answers
 * each block once it is done with it, so the caller can bound the blocks in flight and knows when one may be
 * reused.
 */

import { createHash, type Hash } from "node:crypto";
import { parentPort } from "node:worker_threads";
import { BoundaryFinder } from "@cairn/core";
import { bringIntoCache, PIECE, updateFromMemory } from "./_from-memory.js";
import type { PipelineReply, PipelineRequest } from "./_pipeline-protocol.js";

const port = parentPort;
if (!port) throw new Error("_pipeline-worker runs as a worker thread");

let stream = -1;
let finder: BoundaryFinder | undefined;
let sha256: Hash | undefined;

function handle(request: PipelineRequest): PipelineReply | undefined {
  if (request.type === "start") {
    stream = request.stream;
    finder = request.role === "cuts" ? new BoundaryFinder() : undefined;
    sha256 = request.sha256 ? createHash("sha256") : undefined;
    return undefined;
  }
  if (request.stream !== stream) return undefined; // left over from an abandoned stream
  if (request.type === "block") {
    const bytes = request.bytes;
    if (!finder) {
      if (sha256) updateFromMemory(sha256, bytes);
      return { type: "block", stream, cuts: [] };
    }
    // The scan and the hash take the block a piece at a time, so the hash finds each piece still in the cache.
    const cuts: number[] = [];
    for (let at = 0; at < bytes.length; at += PIECE) {
      const piece = bytes.subarray(at, at + PIECE);
      bringIntoCache(piece);
      for (const cut of finder.push(piece)) cuts.push(at + cut);
      sha256?.update(piece);
    }
    return { type: "block", stream, cuts };
  }
  return { type: "end", stream, sha256: sha256?.digest("hex") };
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
