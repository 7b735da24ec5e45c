/**
 * @module `cairn migrate`: copies a whole registry from one store to another (embedded ↔ PostgreSQL + S3, or
 * any pair), then verifies the copy. Order, for crash safety: the packs are copied first (same keys, same
 * bytes, so chunk hashes and the index stay valid); the metadata, every table with its ids and timestamps,
 * is then loaded in ONE transaction that commits last. A migrate killed at any point leaves a destination
 * with no metadata at all — it never looks like a registry — and running it again reuses the packs already
 * copied. After the commit the destination is verified: row counts per table, every pack's chunks, and every
 * version's files re-read with their sha256.
 */
import { integrity, invalid, Registry, type VerifyView } from "@cairn/core";
import type { Store } from "../open-store.js";
import { verifyRegistry } from "../verify.js";
import {
  isEmpty,
  notEmpty,
  REGISTRY_TABLES,
  type RegistryTables,
  type Row,
  type RowCounts,
  type TableRows,
} from "./tables.js";

const PACKS = REGISTRY_TABLES.find((t) => t.name === "packs")!;
const PACK_KEY = PACKS.columns.findIndex(([name]) => name === "key");
const PACK_SIZE = PACKS.columns.findIndex(([name]) => name === "size");

/** What `cairn migrate` reports as it goes (the CLI prints it on stderr). */
export type MigrateProgress =
  | { step: "packs"; done: number; total: number; bytes: number; skipped: number }
  | { step: "table"; table: string; rows: number }
  | { step: "verify"; done: number; total: number };

export interface MigrateOptions {
  /** Only count what would be copied and check the destination is empty; write nothing. */
  dryRun?: boolean;
  onProgress?: (progress: MigrateProgress) => void;
  /** Packs copied at once (S3 round trips overlap); default 4. */
  concurrency?: number;
}

export interface MigrateReport {
  dryRun: boolean;
  from: string;
  to: string;
  /** Rows per table in the source, read in one snapshot. */
  rows: RowCounts;
  packs: { count: number; bytes: number; copied: number; alreadyThere: number };
  /** Null for a dry run. */
  verified: null | {
    ok: boolean;
    /** Tables whose row count on the destination differs from the source's. */
    countMismatches: Array<{ table: string; source: number; destination: number }>;
    store: VerifyView;
    versions: { checked: number; damaged: VerifyView["damaged"] };
  };
}

interface WithTables {
  tables(): RegistryTables;
}

function tablesOf(store: Store): RegistryTables {
  const meta = store.meta as Partial<WithTables> & Store["meta"];
  if (typeof meta.tables !== "function") {
    throw invalid(`the ${meta.kind} metadata driver cannot be migrated`);
  }
  return meta.tables();
}

function countMismatches(source: RowCounts, destination: RowCounts) {
  return Object.keys(source)
    .filter((table) => source[table] !== destination[table])
    .map((table) => ({ table, source: source[table] ?? 0, destination: destination[table] ?? 0 }));
}

/** Runs `work` over `items`, `limit` at a time. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Copies the registry in `source` into the empty store `destination` and verifies it. CONFLICT, with nothing
 * written, when the destination holds any metadata. A copy that fails verification is reported, not thrown:
 * the caller decides (the CLI exits non-zero).
 */
export async function migrateRegistry(
  source: Store,
  /** Null: a place that does not exist yet, so is empty (a dry run only). */
  destination: Store | null,
  names: { from: string; to: string },
  options: MigrateOptions = {},
): Promise<MigrateReport> {
  const progress = options.onProgress ?? (() => {});
  const from = tablesOf(source);
  const to = destination === null ? null : tablesOf(destination);
  const before = to === null ? {} : await to.countRows();
  if (!isEmpty(before)) throw notEmpty(names.to, before);

  return from.readSnapshot(async (snapshot) => {
    const report: MigrateReport = {
      dryRun: options.dryRun === true,
      from: names.from,
      to: names.to,
      rows: snapshot.counts,
      packs: { count: 0, bytes: 0, copied: 0, alreadyThere: 0 },
      verified: null,
    };
    report.packs.count = snapshot.counts["packs"] ?? 0;
    if (report.dryRun || destination === null || to === null) {
      report.packs.bytes = (await source.content.index.listPacks()).reduce((sum, p) => sum + p.size, 0);
      return report;
    }

    // Each batch of pack rows is copied as blobs before the batch goes on to the load, so every pack the
    // destination's index will name is stored before the metadata commits.
    const copyPacks = async (rows: Row[]) => {
      await eachLimited(rows, options.concurrency ?? 4, async (row) => {
        const key = row[PACK_KEY] as string;
        const size = row[PACK_SIZE] as number;
        // A pack key names one pack's bytes for good; one already there with the same size is a copy an
        // interrupted migrate made (the verification below re-reads every chunk of it all the same).
        const there = await destination.blobs.head(key);
        if (there !== null && there.size === size) report.packs.alreadyThere++;
        else {
          await destination.blobs.put(key, source.blobs.get(key));
          report.packs.copied++;
        }
        report.packs.bytes += size;
        progress({
          step: "packs",
          done: report.packs.copied + report.packs.alreadyThere,
          total: report.packs.count,
          bytes: report.packs.bytes,
          skipped: report.packs.alreadyThere,
        });
      });
    };

    async function* tables(): AsyncIterable<TableRows> {
      for await (const { table, batches } of snapshot.tables()) {
        let rows = 0;
        yield {
          table,
          batches: (async function* (): AsyncIterable<Row[]> {
            for await (const batch of batches) {
              if (table.name === "packs") await copyPacks(batch);
              rows += batch.length;
              yield batch;
            }
            progress({ step: "table", table: table.name, rows });
          })(),
        };
      }
    }
    await to.load(tables(), (loaded) => {
      const wrong = countMismatches(snapshot.counts, loaded);
      if (wrong.length > 0) {
        throw integrity(
          `the copy lost or gained rows (${wrong.map((w) => `${w.table}: ${w.source} → ${w.destination}`).join(", ")}); nothing was committed`,
        );
      }
    });

    report.verified = await verifyCopy(destination, to, snapshot.counts, progress);
    return report;
  });
}

/** Row counts against the source's, then every pack and every version's files re-read on the destination. */
async function verifyCopy(
  destination: Store,
  tables: RegistryTables,
  expected: RowCounts,
  progress: (p: MigrateProgress) => void,
): Promise<NonNullable<MigrateReport["verified"]>> {
  const mismatches = countMismatches(expected, await tables.countRows());
  const registry = new Registry({
    meta: destination.meta,
    content: destination.content,
    actor: "cairn migrate",
  });
  const store = await verifyRegistry(registry);
  const refs: string[] = [];
  for (const artifact of await destination.meta.listArtifacts()) {
    for (const v of await destination.meta.listVersions(artifact.name))
      refs.push(`${artifact.name}@${v.version}`);
  }
  const damaged: VerifyView["damaged"] = [];
  for (const [i, ref] of refs.entries()) {
    damaged.push(...(await verifyRegistry(registry, ref)).damaged);
    progress({ step: "verify", done: i + 1, total: refs.length });
  }
  return {
    ok: mismatches.length === 0 && store.ok && damaged.length === 0,
    countMismatches: mismatches,
    store,
    versions: { checked: refs.length, damaged },
  };
}
