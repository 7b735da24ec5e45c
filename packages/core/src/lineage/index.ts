/**
 * @module Lineage: dataset version → run → model version (and base model → derived version), walked both ways.
 */
export { lineageDot, lineageMermaid, lineageText } from "./render.js";
export {
  type EdgeKind,
  type LineageDirection,
  type LineageEdge,
  type LineageEdgeSource,
  type LineageGraph,
  type LineageNode,
  lineageRoot,
  MAX_LINEAGE_DEPTH,
  walkLineage,
} from "./walk.js";
