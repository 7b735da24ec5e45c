#!/usr/bin/env node
// The `cairn` command. Kept as plain JS so npm can link it before the TypeScript is built.
import { main } from "../dist/main.js";

process.exitCode = await main(process.argv.slice(2));
