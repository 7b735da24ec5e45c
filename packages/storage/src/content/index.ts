/**
 * @module Content stores: where file bytes live, by sha256.
 */
export { contentKey, WholeFileContentStore } from "./whole-file.js";
