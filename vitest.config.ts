import { defineConfig } from "vitest/config";

// Tests import the packages by name, so they run against the built output (`tsc -b` runs first in
// `npm test`): the same code the `cairn` binary and worker threads load.
export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Most test time is spent waiting on child processes (the CLI, servers, PostgreSQL), so two files at once
    // keep both cores busy; vitest's default on a 2-core machine is one.
    maxWorkers: 2,
  },
});
