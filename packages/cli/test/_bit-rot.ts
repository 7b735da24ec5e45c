/**
 * Bit rot, as a disk would cause it: find where a file's own chunk lies in a sandbox's packs, and flip a byte.
 */
import { open } from "node:fs/promises";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Sandbox } from "./_cli.js";

/** Reads the store's database directly, as an operator investigating it would. */
export function withDatabase<T>(s: Sandbox, body: (db: Database.Database) => T): T {
  const db = new Database(join(s.home, "cairn.db"));
  try {
    return body(db);
  } finally {
    db.close();
  }
}

/**
 * Where a chunk that only this file uses lies: its pack's file and offset, found through the chunk index.
 * Damaging it must hurt this file and no other.
 */
function chunkOnlyIn(s: Sandbox, fileSha256: string): { path: string; offset: number; length: number } {
  const row = withDatabase(s, (db) =>
    db
      .prepare(
        `SELECT p.key, k.offset, k.length FROM contents c
         JOIN content_chunks cc ON cc.content_id = c.id
         JOIN chunks k ON k.hash = cc.hash JOIN packs p ON p.id = k.pack_id
         WHERE c.sha256 = ?
           AND NOT EXISTS (SELECT 1 FROM content_chunks o WHERE o.hash = cc.hash AND o.content_id <> c.id)
         ORDER BY cc.ord LIMIT 1`,
      )
      .get(fileSha256),
  ) as { key: string; offset: number; length: number } | undefined;
  if (!row) throw new Error(`no chunk of ${fileSha256} is its own`);
  return { path: join(s.home, "blobs", ...row.key.split("/")), offset: row.offset, length: row.length };
}

/** Flips one byte in a file, as bit rot on the disk would. */
async function flipByte(path: string, at: number): Promise<void> {
  const file = await open(path, "r+");
  try {
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, at);
    byte[0] = byte[0]! ^ 0x20;
    await file.write(byte, 0, 1, at);
  } finally {
    await file.close();
  }
}

/** Damages the middle of a chunk only the file with this sha256 uses. */
export async function rotFile(s: Sandbox, fileSha256: string): Promise<void> {
  const at = chunkOnlyIn(s, fileSha256);
  await flipByte(at.path, at.offset + Math.floor(at.length / 2));
}
