/**
 * @module @cairn/cli — the `cairn` command, exported for tests and embedding.
 */

export { buildProgram, EXIT_ERROR, EXIT_OK, EXIT_USAGE, main } from "./main.js";
export { pullVersion } from "./pull-files.js";
