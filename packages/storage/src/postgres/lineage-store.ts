/**
 * @module Lineage edges on PostgreSQL: one statement per kind of edge for a whole level of the walk, the level's
 * nodes passed as array parameters.
 */
import type { LineageEdge, LineageEdgeSource, LineageNode } from "@cairn/core";
import type { Database } from "./_database.js";

const RUN = "run:";
type Row = { src: string; dst: string };

const VERSION_IDS = `SELECT v.id FROM versions v JOIN artifacts a ON a.id = v.artifact_id
  JOIN unnest($1::text[], $2::text[]) AS n(name, version) ON n.name = a.name AND n.version = v.version`;

export class PostgresLineageStore implements LineageEdgeSource {
  constructor(private readonly db: Database) {}

  async edges(nodes: LineageNode[], direction: "up" | "down"): Promise<LineageEdge[]> {
    const runs = nodes.filter((n) => n.startsWith(RUN)).map((n) => n.slice(RUN.length));
    const refs = nodes.filter((n) => !n.startsWith(RUN));
    const names = refs.map((ref) => ref.slice(0, ref.indexOf("@")));
    const versions = refs.map((ref) => ref.slice(ref.indexOf("@") + 1));
    const rows = (sql: string, values: unknown[], some: unknown[]) =>
      some.length === 0 ? Promise.resolve([]) : this.db.query<Row>("cannot read lineage", sql, values);
    const parts: [Promise<Row[]>, LineageEdge["kind"]][] =
      direction === "down"
        ? [
            [
              rows(
                `SELECT i.ref AS src, 'run:' || i.run_id AS dst FROM run_inputs i WHERE i.ref = ANY($1::text[])`,
                [refs],
                refs,
              ),
              "input",
            ],
            [
              rows(
                `SELECT d.ref AS src, a.name || '@' || v.version AS dst FROM version_data d
                 JOIN versions v ON v.id = d.version_id JOIN artifacts a ON a.id = v.artifact_id
                 WHERE d.ref = ANY($1::text[])`,
                [refs],
                refs,
              ),
              "data",
            ],
            [
              rows(
                `SELECT 'run:' || v.run AS src, a.name || '@' || v.version AS dst FROM versions v
                 JOIN artifacts a ON a.id = v.artifact_id WHERE v.run = ANY($1::text[])`,
                [runs],
                runs,
              ),
              "produced",
            ],
            [
              rows(
                `SELECT v.base AS src, a.name || '@' || v.version AS dst FROM versions v
                 JOIN artifacts a ON a.id = v.artifact_id WHERE v.base = ANY($1::text[])`,
                [refs],
                refs,
              ),
              "base",
            ],
          ]
        : [
            [
              rows(
                `SELECT i.ref AS src, 'run:' || i.run_id AS dst FROM run_inputs i WHERE i.run_id = ANY($1::text[])`,
                [runs],
                runs,
              ),
              "input",
            ],
            [
              rows(
                `SELECT d.ref AS src, a.name || '@' || v.version AS dst FROM version_data d
                 JOIN versions v ON v.id = d.version_id JOIN artifacts a ON a.id = v.artifact_id
                 WHERE v.id IN (${VERSION_IDS})`,
                [names, versions],
                refs,
              ),
              "data",
            ],
            [
              rows(
                `SELECT 'run:' || v.run AS src, a.name || '@' || v.version AS dst FROM versions v
                 JOIN artifacts a ON a.id = v.artifact_id WHERE v.run IS NOT NULL AND v.id IN (${VERSION_IDS})`,
                [names, versions],
                refs,
              ),
              "produced",
            ],
            [
              rows(
                `SELECT v.base AS src, a.name || '@' || v.version AS dst FROM versions v
                 JOIN artifacts a ON a.id = v.artifact_id WHERE v.base IS NOT NULL AND v.id IN (${VERSION_IDS})`,
                [names, versions],
                refs,
              ),
              "base",
            ],
          ];
    const edges: LineageEdge[] = [];
    for (const [query, kind] of parts)
      for (const row of await query) edges.push({ from: row.src, to: row.dst, kind });
    return edges;
  }
}
