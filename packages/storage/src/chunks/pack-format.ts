/**
 * @module The pack object: chunks back to back, then a table of (hash, offset, length) and a fixed footer. The
 * table makes a pack self-describing, so the chunk index can be rebuilt from the blob store alone.
 *
 *   [chunk bytes …][table: count × (32-byte hash, u64 offset, u32 length)][footer: 32 bytes]
 *   footer = "CAIRNPK1" | u32 format | u32 count | u64 table offset | first 8 bytes of sha256(table)
 */
import { createHash } from "node:crypto";
import { type BlobStore, type ChunkLocation, integrity } from "@cairn/core";

export const PACK_MAGIC = Buffer.from("CAIRNPK1", "ascii");
export const PACK_FORMAT = 1;
export const FOOTER_SIZE = 32;
export const ENTRY_SIZE = 44;

export interface PackEntry {
  hash: string;
  offset: number;
  length: number;
}

/** The table and footer that close a pack whose chunk bytes end at `dataEnd`. */
export function encodePackTrailer(entries: readonly PackEntry[], dataEnd: number): Buffer {
  const table = Buffer.alloc(entries.length * ENTRY_SIZE);
  entries.forEach((entry, i) => {
    const at = i * ENTRY_SIZE;
    table.write(entry.hash, at, 32, "hex");
    table.writeBigUInt64LE(BigInt(entry.offset), at + 32);
    table.writeUInt32LE(entry.length, at + 40);
  });
  const footer = Buffer.alloc(FOOTER_SIZE);
  PACK_MAGIC.copy(footer, 0);
  footer.writeUInt32LE(PACK_FORMAT, 8);
  footer.writeUInt32LE(entries.length, 12);
  footer.writeBigUInt64LE(BigInt(dataEnd), 16);
  createHash("sha256").update(table).digest().copy(footer, 24, 0, 8);
  return Buffer.concat([table, footer]);
}

export async function readAll(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of source) parts.push(Buffer.from(part.buffer, part.byteOffset, part.byteLength));
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** Reads a pack's own chunk table (two range reads), checking the footer and the table's checksum. */
export async function readPackTable(blobs: BlobStore, key: string, size: number): Promise<ChunkLocation[]> {
  if (size < FOOTER_SIZE) throw integrity(`pack ${key} is too short to be a pack (${size} bytes)`);
  const footer = await readAll(blobs.get(key, { offset: size - FOOTER_SIZE, length: FOOTER_SIZE }));
  if (footer.length !== FOOTER_SIZE || !footer.subarray(0, 8).equals(PACK_MAGIC)) {
    throw integrity(`pack ${key} has no valid footer`);
  }
  const format = footer.readUInt32LE(8);
  if (format !== PACK_FORMAT) throw integrity(`pack ${key} has unknown format ${format}`);
  const count = footer.readUInt32LE(12);
  const tableOffset = Number(footer.readBigUInt64LE(16));
  if (tableOffset + count * ENTRY_SIZE + FOOTER_SIZE !== size)
    throw integrity(`pack ${key} has a damaged footer`);
  const table =
    count === 0
      ? Buffer.alloc(0)
      : await readAll(blobs.get(key, { offset: tableOffset, length: count * ENTRY_SIZE }));
  if (!createHash("sha256").update(table).digest().subarray(0, 8).equals(footer.subarray(24, 32))) {
    throw integrity(`pack ${key} has a damaged chunk table`);
  }
  const chunks: ChunkLocation[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * ENTRY_SIZE;
    const offset = Number(table.readBigUInt64LE(at + 32));
    const length = table.readUInt32LE(at + 40);
    if (offset + length > tableOffset) throw integrity(`pack ${key} has a chunk entry past its data`);
    chunks.push({ hash: table.toString("hex", at, at + 32), pack: key, offset, length });
  }
  return chunks;
}
