/**
 * @module Names chunks: BLAKE3 keyed with Xet's data key, as lowercase hex of the 32 digest bytes (what
 * `b3sum --keyed` prints). Uses the native `@napi-rs/blake-hash` binding (~5 GB/s) and falls back to the
 * portable implementation when the binding cannot load on this platform.
 */

import { createRequire } from "node:module";
import type { Blake3Hasher } from "@napi-rs/blake-hash";
import { PortableBlake3 } from "./_blake3-js.js";
import { CHUNK_KEY } from "./_params.js";

/** An incremental chunk hasher: feed a chunk's bytes in any pieces, then take its name. */
export interface ChunkHasher {
  update(data: Uint8Array): void;
  /** The hex name of the bytes fed since the last digest; the hasher is then ready for the next chunk. */
  digest(): string;
}

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
  const hasher = new PortableBlake3(CHUNK_KEY);
  return {
    update: (data) => void hasher.update(data),
    digest: () => {
      const hex = Buffer.from(hasher.digest()).toString("hex");
      hasher.reset();
      return hex;
    },
  };
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
