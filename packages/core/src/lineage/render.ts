/**
 * @module Lineage graphs as text (one edge a line), Graphviz dot and Mermaid. Node names are quoted and
 * escaped for each format, since artifact names and run names are user data.
 */
import type { LineageGraph } from "./walk.js";

const LABEL: Record<string, string> = {
  input: "read by",
  produced: "produced",
  data: "trained on",
  base: "base of",
};

export function lineageText(graph: LineageGraph): string[] {
  if (graph.edges.length === 0) return [`${graph.root}: no lineage recorded`];
  return graph.edges.map((edge) => `${edge.from} --${LABEL[edge.kind] ?? edge.kind}--> ${edge.to}`);
}

export function lineageDot(graph: LineageGraph): string[] {
  const q = (text: string) => `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  return [
    "digraph lineage {",
    "  rankdir=LR;",
    ...graph.nodes.map((node) => `  ${q(node)}${node === graph.root ? " [style=bold]" : ""};`),
    ...graph.edges.map(
      (edge) => `  ${q(edge.from)} -> ${q(edge.to)} [label=${q(LABEL[edge.kind] ?? edge.kind)}];`,
    ),
    "}",
  ];
}

export function lineageMermaid(graph: LineageGraph): string[] {
  // Mermaid ids must be plain words; labels carry the names, with quotes as HTML entities.
  const ids = new Map(graph.nodes.map((node, i) => [node, `n${i}`]));
  const label = (text: string) => `["${text.replace(/"/g, "#quot;")}"]`;
  return [
    "flowchart LR",
    ...graph.nodes.map((node) => `  ${ids.get(node)}${label(node)}`),
    ...graph.edges.map(
      (edge) => `  ${ids.get(edge.from)} -->|${LABEL[edge.kind] ?? edge.kind}| ${ids.get(edge.to)}`,
    ),
  ];
}
