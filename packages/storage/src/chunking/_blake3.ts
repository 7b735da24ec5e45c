/**
 * @module Names chunks: BLAKE3 keyed with Xet's data key, as lowercase hex of the 32 digest bytes (what
 * `b3sum --keyed` prints). Uses the native `@napi-rs/blake-hash` binding (~5 GB/s) and falls back to the
 * portable implementation when the binding cannot load on this platform.
 */

import { createRequire } from "node:module";
import { CHUNK_KEY, type ChunkHasher, createPortableChunkHasher } from "@cairn/core";
import type { Blake3Hasher } from "@napi-rs/blake-hash";

export type { ChunkHasher } from "@cairn/core";

type NativeModule = { Blake3Hasher: typeof Blake3Hasher };

let native: NativeModule | null | undefined;

function loadNative(): NativeModule | null {
  if (native === undefined) {
    try {
      // The binding is CommonJS with per-platform optional packages; a missing one throws here.
      native = createRequire(import.meta.url)("@napi-rs/blake-hash") as NativeModule;
    } catch {
      native = null;
    }
  }
  return native;
}

const keyBuffer = Buffer.from(CHUNK_KEY);

export function createChunkHasher(options: { portable?: boolean } = {}): ChunkHasher {
  const binding = options.portable ? null : loadNative();
  if (binding) {
    const hasher = binding.Blake3Hasher.newKeyed(keyBuffer);
    return {
      update: (data) => void hasher.update(data),
      digest: () => {
        const hex = hasher.digest("hex");
        hasher.reset(); // keeps the key
        return hex;
      },
    };
  }
  return createPortableChunkHasher();
}

/** True when chunk names come from the native binding (for diagnostics and benchmarks). */
export const usesNativeBlake3 = (): boolean => loadNative() !== null;

let oneShot: ChunkHasher | undefined;

/** The name of one chunk's bytes (keyed BLAKE3, hex). */
export function chunkHash(data: Uint8Array): string {
  oneShot ??= createChunkHasher();
  oneShot.update(data);
  return oneShot.digest();
}
