/**
 * @module @cairn/cli — the `cairn` command, exported for tests and embedding.
 */

export { pullVersion } from "./commands/pull.js";
export { buildProgram, EXIT_ERROR, EXIT_OK, EXIT_USAGE, main } from "./main.js";
