/**
 * @module How a long-running `cairn serve` process collects garbage: with atomic full collections instead of
 * incremental marking.
 *
 * Why: a pack upload hands the server a fresh 64 KiB buffer per socket read (Node's HTTP parser copies every
 * body piece), a GiB of short-lived outside-the-heap memory per GiB pushed. With incremental marking, V8 then
 * fell now and then into a run of full collections started by its marking task every ~50 ms while the heap
 * held steady at ~21 MB of 45 allowed: 30-50 of them in one 1 GiB push instead of 3, costing about a second of
 * CPU on the two cores the client shares. Measured (1 GiB pushed over loopback, cold cache, 5 runs each): with
 * incremental marking 3-34 full collections, server CPU 3.5-5.0 s, push 3.9-5.3 s; without, 3-4 full
 * collections, 3.6-4.0 s, 4.0-4.4 s. Each full collection of this heap pauses the server 10-30 ms, a few times
 * a minute under load.
 *
 * The flag is read whenever V8 decides to collect, so setting it once the process runs takes effect (Node
 * warns that flags set late may not; this one was checked with --trace-gc).
 */
import { setFlagsFromString } from "node:v8";

let tuned = false;

/** Turns incremental marking off for this process; for a server process only (its heap stays small). */
export function tuneGarbageCollectionForServing(): void {
  if (tuned) return;
  tuned = true;
  setFlagsFromString("--no-incremental-marking");
}
