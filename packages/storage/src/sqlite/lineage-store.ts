/**
 * @module Lineage edges on SQLite: one statement per kind of edge for a whole level of the walk, the level's
 * nodes passed as one JSON parameter.
 */
import type { LineageEdge, LineageEdgeSource, LineageNode } from "@cairn/core";
import type { Connection } from "./_connection.js";

const RUN = "run:";

export class SqliteLineageStore implements LineageEdgeSource {
  constructor(private readonly c: Connection) {}

  edges(nodes: LineageNode[], direction: "up" | "down"): Promise<LineageEdge[]> {
    const runs = nodes.filter((n) => n.startsWith(RUN)).map((n) => n.slice(RUN.length));
    const refs = nodes.filter((n) => !n.startsWith(RUN));
    const pairs = refs.map((ref) => [ref.slice(0, ref.indexOf("@")), ref.slice(ref.indexOf("@") + 1)]);
    return this.c.read("cannot read lineage", () => {
      const all = <R>(sql: string, list: unknown[]) =>
        list.length === 0 ? [] : (this.c.sql<R>(sql).all(JSON.stringify(list)) as R[]);
      type Row = { src: string; dst: string };
      const edges: LineageEdge[] = [];
      const add = (rows: Row[], kind: LineageEdge["kind"]) => {
        for (const row of rows) edges.push({ from: row.src, to: row.dst, kind });
      };
      const versionIds = `SELECT v.id FROM versions v JOIN artifacts a ON a.id = v.artifact_id
        WHERE (a.name, v.version) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))`;
      if (direction === "down") {
        add(
          all<Row>(
            `SELECT i.ref AS src, 'run:' || i.run_id AS dst FROM run_inputs i WHERE i.ref IN (SELECT value FROM json_each(?))`,
            refs,
          ),
          "input",
        );
        add(
          all<Row>(
            `SELECT d.ref AS src, a.name || '@' || v.version AS dst FROM version_data d
             JOIN versions v ON v.id = d.version_id JOIN artifacts a ON a.id = v.artifact_id
             WHERE d.ref IN (SELECT value FROM json_each(?))`,
            refs,
          ),
          "data",
        );
        add(
          all<Row>(
            `SELECT 'run:' || v.run AS src, a.name || '@' || v.version AS dst FROM versions v
             JOIN artifacts a ON a.id = v.artifact_id WHERE v.run IN (SELECT value FROM json_each(?))`,
            runs,
          ),
          "produced",
        );
        add(
          all<Row>(
            `SELECT v.base AS src, a.name || '@' || v.version AS dst FROM versions v
             JOIN artifacts a ON a.id = v.artifact_id WHERE v.base IN (SELECT value FROM json_each(?))`,
            refs,
          ),
          "base",
        );
      } else {
        add(
          all<Row>(
            `SELECT i.ref AS src, 'run:' || i.run_id AS dst FROM run_inputs i WHERE i.run_id IN (SELECT value FROM json_each(?))`,
            runs,
          ),
          "input",
        );
        add(
          all<Row>(
            `SELECT d.ref AS src, a.name || '@' || v.version AS dst FROM version_data d
             JOIN versions v ON v.id = d.version_id JOIN artifacts a ON a.id = v.artifact_id
             WHERE v.id IN (${versionIds})`,
            pairs,
          ),
          "data",
        );
        add(
          all<Row>(
            `SELECT 'run:' || v.run AS src, a.name || '@' || v.version AS dst FROM versions v
             JOIN artifacts a ON a.id = v.artifact_id WHERE v.run IS NOT NULL AND v.id IN (${versionIds})`,
            pairs,
          ),
          "produced",
        );
        add(
          all<Row>(
            `SELECT v.base AS src, a.name || '@' || v.version AS dst FROM versions v
             JOIN artifacts a ON a.id = v.artifact_id WHERE v.base IS NOT NULL AND v.id IN (${versionIds})`,
            pairs,
          ),
          "base",
        );
      }
      return edges;
    });
  }
}
