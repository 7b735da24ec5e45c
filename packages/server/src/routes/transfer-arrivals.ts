/**
 * @module What arrived in a session's packs, in order: the sha256 of the chunk bytes, hashed as they come in
 * (on a worker thread, which checks each chunk against its name too: ArrivingChunks), so a file made of exactly
 * the chunks sent, in the order sent, is checked against its sha256 (or, when the client left the sha256 to the
 * server, named by it) without reading it back from the store, which costs seconds per GiB while the client
 * waits for the answer.
 *
 * A push sends the chunks the server lacks in numbered packs, in file order. Packs are hashed in the order of
 * their numbers: a pack that arrives while those before it are still on the wire waits for them (up to
 * MAX_AHEAD of them). A file is vouched for if its chunks are those hashed from the session's first pack, or
 * from a pack the client marked as beginning a file, to the end of some pack. Anything else — a pack out of
 * order, resent after a cut, or refused — stops the session's tracking, and its files are then checked by
 * reading them back, as before (and their chunks are checked on the request's thread). Only chunks that
 * matched their BLAKE3 are hashed.
 */
import { createHash } from "node:crypto";
import type { ChunkRef } from "@cairn/core";
import { ArrivingChunks, type CheckedChunks } from "@cairn/storage";

/** The state after a whole pack, counted from the start of the file it belongs to (see `begin`). */
interface PackEnd {
  chunks: number;
  bytes: number;
  /** Computed on a worker thread (ArrivingChunks); undefined if that failed. */
  sha256: Promise<string | undefined>;
  names: string;
  /** The pack it ends, and the first pack of its file's run. */
  pack: number;
  from: number;
}

/** What the arrivals know of a file: its sha256, and whether every pack it arrived in is stored and indexed. */
export interface ArrivedFile {
  sha256: string;
  stored: boolean;
}

/**
 * How long a pack waits for the ones before it to finish arriving; past that the tracking stops. Only a guard:
 * the packs waited for are on the wire already, and end (whole, cut or refused) when their connections do.
 */
const TURN_WAIT_MS = 30_000;
/** Packs a pack may wait behind: a client keeps a few on the wire at once (the SDK three). */
const MAX_AHEAD = 4;
/** Pack ends remembered: a file past them (32 GiB in the SDK's 32 MiB packs) is read back instead. */
const MAX_ENDS = 1024;

/** The names of a run of chunks, hashed: two runs with the same digest list the same chunks, in order. */
function namesDigest(chunks: Iterable<ChunkRef>): NamesHash {
  const names = new NamesHash();
  for (const chunk of chunks) names.add(chunk);
  return names;
}

class NamesHash {
  private readonly hash = createHash("sha256");
  add(chunk: ChunkRef): void {
    this.hash.update(`${chunk.hash}:${chunk.length}\n`);
  }
  copyDigest(): string {
    return this.hash.copy().digest("hex");
  }
}

export class SessionArrivals {
  /** @param maxAhead how many packs one may wait behind (0: none, a pack out of order stops the tracking). */
  constructor(private readonly maxAhead = MAX_AHEAD) {}

  /** Checks the chunks and keeps the sha256 of the current run's bytes; made when the first pack is hashed. */
  private checks: ArrivingChunks | undefined;
  private names = new NamesHash();
  private chunks = 0;
  private size = 0;
  /** The first pack of the current run (the session's first, or the last that began a file). */
  private from = 1;
  /** Packs whose chunks are durable and indexed (`stored`). */
  private readonly storedPacks = new Set<number>();
  private readonly ends: PackEnd[] = [];
  /** The number of the pack being hashed, or of the next one to hash; and whether it is arriving now. */
  private expected = 1;
  private arriving = false;
  private broken = false;
  /** Nothing more is to be hashed: the worker goes back as soon as no pack is arriving. */
  private releasing = false;
  private waiters: (() => void)[] = [];
  touched = Date.now();

  /**
   * Waits until pack `n` may be hashed; false if it may not (the session is no longer tracked). A caller
   * given true must call `ended` once the pack's body is done, whether whole or not. `startsFile`: the pack
   * begins a file, whose chunks are hashed from here (the ends of packs before stay as they were).
   */
  async begin(n: number, startsFile = false): Promise<boolean> {
    this.touched = Date.now();
    if (this.broken || this.releasing) return false;
    // Packs before this one are still to arrive, or arriving: the client sent them together. Wait for them.
    const deadline = Date.now() + TURN_WAIT_MS;
    while (
      !this.broken &&
      (n > this.expected || (n === this.expected && this.arriving)) &&
      n - this.expected <= this.maxAhead &&
      Date.now() < deadline
    ) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        timer = setTimeout(resolve, deadline - Date.now());
      });
      clearTimeout(timer);
    }
    if (this.broken || n !== this.expected || this.arriving) return this.stop();
    this.arriving = true;
    this.checks ??= new ArrivingChunks();
    if (startsFile) {
      this.from = n;
      this.checks.restart();
      this.names = new NamesHash();
      this.chunks = 0;
      this.size = 0;
    }
    return true;
  }

  /**
   * A chunk of the pack being hashed that arrived whole, its bytes as the parts they arrived in (copied before
   * this returns); it is checked against its name before `take` hands it on.
   */
  add(hash: string, parts: readonly Uint8Array[]): void {
    if (!this.checks) throw new Error("SessionArrivals: add outside a pack begun");
    // Checked even once the tracking has stopped (another pack came out of order): this pack relies on it.
    this.checks.add(hash, parts);
    if (this.broken) return;
    let length = 0;
    for (const part of parts) length += part.byteLength;
    this.names.add({ hash, length });
    this.chunks++;
    this.size += length;
  }

  /** The chunks added and checked since the last take (see ArrivingChunks.take): to store, in order. */
  take(all: boolean): Promise<CheckedChunks> {
    if (!this.checks) throw new Error("SessionArrivals: take outside a pack begun");
    return this.checks.take(all);
  }

  /** The current pack's body is done: `whole` if every byte of it arrived and was accepted. */
  ended(whole: boolean): void {
    this.touched = Date.now();
    const arriving = this.arriving;
    this.arriving = false;
    if (!whole || this.broken || !arriving || !this.checks || this.ends.length >= MAX_ENDS) {
      this.stop();
      return;
    }
    this.ends.push({
      chunks: this.chunks,
      bytes: this.size,
      sha256: this.checks.mark().catch(() => undefined),
      names: this.names.copyDigest(),
      pack: this.expected,
      from: this.from,
    });
    this.expected++;
    if (this.releasing) this.checks.release();
    this.wake();
  }

  /** Pack `n`'s chunks are durable and indexed (its upload was answered). */
  stored(n: number): void {
    this.storedPacks.add(n);
  }

  /**
   * What is known of the file `content` if it is the chunks arrived from the session's first pack, or from a
   * pack that began a file, to the end of some pack, in that order; else undefined.
   */
  async fileOf(content: { size: number; chunks: ChunkRef[] }): Promise<ArrivedFile | undefined> {
    this.touched = Date.now();
    const sized = this.ends.filter((e) => e.chunks === content.chunks.length && e.bytes === content.size);
    if (sized.length === 0) return undefined;
    const names = namesDigest(content.chunks).copyDigest();
    const end = sized.find((e) => e.names === names);
    if (!end) return undefined;
    let stored = true;
    for (let n = end.from; n <= end.pack && stored; n++) stored = this.storedPacks.has(n);
    const sha256 = await end.sha256;
    return sha256 === undefined ? undefined : { sha256, stored };
  }

  /**
   * Nothing more will be hashed: the hashing worker goes back to the pool once the digests asked for have come,
   * and once the pack arriving now (if one is) has ended — its chunks are still being checked there.
   */
  release(): void {
    this.releasing = true;
    if (!this.arriving) this.checks?.release();
  }

  private stop(): false {
    this.broken = true;
    this.release();
    this.wake();
    return false;
  }

  private wake(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}

/**
 * Per session, within this server process. A session whose packs several processes take (servers behind a
 * load balancer, or `cairn serve --workers N`) is tracked until a pack is missing here, and read back after.
 */
export class Arrivals {
  private readonly bySession = new Map<string, SessionArrivals>();

  constructor(
    private readonly idleMs: number,
    private readonly maxAhead = MAX_AHEAD,
  ) {}

  of(session: string): SessionArrivals {
    let arrivals = this.bySession.get(session);
    if (!arrivals) {
      this.forgetIdle();
      arrivals = new SessionArrivals(this.maxAhead);
      this.bySession.set(session, arrivals);
    }
    return arrivals;
  }

  /** The file `content` if the session's arrivals make it (then its bytes need not be read back). */
  async fileOf(
    session: string,
    content: { size: number; chunks: ChunkRef[] },
  ): Promise<ArrivedFile | undefined> {
    return this.bySession.get(session)?.fileOf(content);
  }

  forget(session: string): void {
    this.bySession.get(session)?.release();
    this.bySession.delete(session);
  }

  /** Sessions left to expire are never ended here: drop what they hold once they have idled out. */
  private forgetIdle(): void {
    const before = Date.now() - this.idleMs;
    for (const [session, arrivals] of this.bySession) if (arrivals.touched < before) this.forget(session);
  }
}
