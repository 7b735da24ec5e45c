/**
 * @module The local-folder blob driver.
 */
export { FsBlobStore, openFsBlobStore } from "./blob-store.js";
