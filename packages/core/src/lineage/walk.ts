/**
 * @module Lineage as a graph walk in pure code: from one node (a version `name@1.2.0` or a run), up to what it
 * was made from or down to what was made from it, level by level. The driver answers one question per level
 * ("the edges touching these nodes"), so a walk costs one query per level, never one per node.
 */
import { invalid, notFound } from "../errors.js";

/** A version as `name@version`, or a run as `run:<id>`. */
export type LineageNode = string;

export type EdgeKind = "input" | "produced" | "data" | "base";

/** `from` went into `to`: a dataset version into a run (input), a run into a version (produced), a dataset
 * version straight into a version (data), a base model into a version derived from it (base). */
export interface LineageEdge {
  from: LineageNode;
  to: LineageNode;
  kind: EdgeKind;
}

export type LineageDirection = "up" | "down" | "both";

export interface LineageEdgeSource {
  /** Edges whose `to` (walking up) or `from` (walking down) is one of `nodes`. */
  edges(nodes: LineageNode[], direction: "up" | "down"): Promise<LineageEdge[]>;
}

export interface LineageGraph {
  root: LineageNode;
  nodes: LineageNode[];
  edges: LineageEdge[];
}

export const MAX_LINEAGE_DEPTH = 100;

export async function walkLineage(
  source: LineageEdgeSource,
  root: LineageNode,
  options: { direction?: LineageDirection; depth?: number } = {},
): Promise<LineageGraph> {
  const depth = options.depth ?? MAX_LINEAGE_DEPTH;
  if (!Number.isSafeInteger(depth) || depth < 1 || depth > MAX_LINEAGE_DEPTH) {
    throw invalid(`depth must be a whole number from 1 to ${MAX_LINEAGE_DEPTH}`);
  }
  const direction = options.direction ?? "both";
  const nodes = new Set<LineageNode>([root]);
  const edges = new Map<string, LineageEdge>();
  for (const way of direction === "both" ? (["up", "down"] as const) : [direction]) {
    // Each way keeps its own frontier, so "both" shows ancestors and descendants, not cousins.
    const seen = new Set<LineageNode>([root]);
    let frontier = [root];
    for (let level = 0; level < depth && frontier.length > 0; level++) {
      const next: LineageNode[] = [];
      for (const edge of await source.edges(frontier, way)) {
        edges.set(`${edge.from}\u0000${edge.to}\u0000${edge.kind}`, edge);
        const reached = way === "up" ? edge.from : edge.to;
        nodes.add(reached);
        // A cycle (a model named as its own base, say) stops here instead of looping.
        if (!seen.has(reached)) {
          seen.add(reached);
          next.push(reached);
        }
      }
      frontier = next;
    }
  }
  return { root, nodes: [...nodes].sort(), edges: [...edges.values()].sort(compareEdges) };
}

function compareEdges(a: LineageEdge, b: LineageEdge): number {
  return a.from.localeCompare(b.from) || a.to.localeCompare(b.to) || a.kind.localeCompare(b.kind);
}

/**
 * The node a user's REF names: a version ref (`name@1.2.0`, `name@production`, `name#3`) resolved to its exact
 * version, or else a run id, which must exist (NOT_FOUND otherwise, whatever the id's shape).
 */
export async function lineageRoot(
  ref: string,
  resolve: (ref: string) => Promise<{ artifact: string; version: string }>,
  findRun: (id: string) => Promise<unknown | null>,
): Promise<LineageNode> {
  if (ref.includes("@") || ref.includes("#")) {
    const version = await resolve(ref);
    return `${version.artifact}@${version.version}`;
  }
  if ((await findRun(ref)) === null)
    throw notFound(`no run ${ref}`, { hint: "give a run id or a version ref" });
  return `run:${ref}`;
}
