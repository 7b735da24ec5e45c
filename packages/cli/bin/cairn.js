#!/usr/bin/env node
// The `cairn` command. Kept as plain JS so npm can link it before the TypeScript is built.
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  // Scripts ask for the version often; answer it without loading the command tree.
  const { readFileSync } = await import("node:fs");
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  process.stdout.write(`${pkg.version}\n`);
} else {
  const { main } = await import("../dist/main.js");
  process.exitCode = await main(args);
}
