/**
 * @module The worker thread behind `chunkStream`, the chunk store's reads and a server's upload hashing. In the
 * "cuts" role it finds chunk boundaries (the gear scan) and hashes the whole file; in the "sha256" role it
 * hashes, checks chunks against their names as it does (`check`), and can say the digest so far (`mark`) and
 * begin again (`restart`). It answers
 * each block once it is done with it, so the caller can bound the blocks in flight and knows when one may be
 * reused.
 */

import { createHash, type Hash } from "node:crypto";
import { parentPort } from "node:worker_threads";
import { BoundaryFinder } from "@cairn/core";
import { type ChunkHasher, createChunkHasher } from "./_blake3.js";
import { bringIntoCache, PIECE, updateFromMemory } from "./_from-memory.js";
import type { PipelineReply, PipelineRequest } from "./_pipeline-protocol.js";

const port = parentPort;
if (!port) throw new Error("_pipeline-worker runs as a worker thread");

let stream = -1;
let finder: BoundaryFinder | undefined;
let sha256: Hash | undefined;
/** Naming chunks: the hasher holds the open chunk's bytes so far, which may have begun in earlier blocks. */
let namer: ChunkHasher | undefined;
let named = false;
/** Checking chunks against their names (the "check" request). */
let checker: ChunkHasher | undefined;

function handle(request: PipelineRequest): PipelineReply | undefined {
  if (request.type === "start") {
    stream = request.stream;
    finder = request.role === "cuts" ? new BoundaryFinder() : undefined;
    sha256 = request.sha256 ? createHash("sha256") : undefined;
    named = request.names === true && finder !== undefined;
    // A fresh one: a stream abandoned mid-chunk leaves its bytes so far in the last.
    namer = named ? createChunkHasher() : undefined;
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
    // Names too, while the piece is in the cache: the bytes of each chunk that ends in it, and the rest of it
    // for the chunk still open.
    const cuts: number[] = [];
    const names: string[] = [];
    for (let at = 0; at < bytes.length; at += PIECE) {
      const piece = bytes.subarray(at, at + PIECE);
      bringIntoCache(piece);
      let from = 0;
      for (const cut of finder.push(piece)) {
        cuts.push(at + cut);
        if (named) {
          namer!.update(piece.subarray(from, cut));
          names.push(namer!.digest());
          from = cut;
        }
      }
      if (named && from < piece.length) namer!.update(piece.subarray(from));
      sha256?.update(piece);
    }
    return named ? { type: "block", stream, cuts, names } : { type: "block", stream, cuts };
  }
  if (request.type === "check") {
    // Named first, which brings each chunk into this core's cache for the sha256 (see _from-memory.ts).
    checker ??= createChunkHasher();
    let at = 0;
    for (let i = 0; i < request.lengths.length; i++) {
      const chunk = request.bytes.subarray(at, at + request.lengths[i]!);
      checker.update(chunk);
      if (checker.digest() !== request.names[i]) return { type: "check", stream, bad: i };
      sha256?.update(chunk);
      at += chunk.length;
    }
    return { type: "check", stream, bad: -1 };
  }
  if (request.type === "mark") {
    return { type: "mark", stream, sha256: sha256 ? sha256.copy().digest("hex") : "" };
  }
  if (request.type === "restart") {
    sha256 = createHash("sha256");
    return { type: "restart", stream };
  }
  const last = named ? namer!.digest() : undefined;
  return { type: "end", stream, sha256: sha256?.digest("hex"), ...(last !== undefined ? { last } : {}) };
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
