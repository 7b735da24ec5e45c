/**
 * @module The `cairn` command: builds the command tree and holds the one top-level catch that turns every
 * failure into `error: …` (or JSON with --json) and an exit code: 0 ok, 1 error, 2 usage.
 */
import { readFileSync } from "node:fs";
import { CairnError } from "@cairn/core";
import { Command, CommanderError } from "commander";
import { AlreadyReported } from "./already-reported.js";
import { registerAlias, registerRollback } from "./commands/alias.js";
import { registerNotes, registerTag } from "./commands/annotate.js";
import { registerDiff } from "./commands/diff.js";
import { registerInit } from "./commands/init.js";
import { registerLineage } from "./commands/lineage.js";
import { registerList } from "./commands/list.js";
import { registerLog } from "./commands/log.js";
import { registerFsck, registerGc, registerStats, registerVerify } from "./commands/maintenance.js";
import { registerMetrics } from "./commands/metrics.js";
import { registerMigrate } from "./commands/migrate.js";
import { registerPromote } from "./commands/promote.js";
import { registerPull } from "./commands/pull.js";
import { registerPush } from "./commands/push.js";
import { registerReproduce } from "./commands/reproduce.js";
import { registerRun } from "./commands/run.js";
import { registerSearch } from "./commands/search.js";
import { registerServe } from "./commands/serve.js";
import { registerShow } from "./commands/show.js";
import { registerToken } from "./commands/token.js";
import { printError } from "./output.js";

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command("cairn")
    .description(
      "cairn — a model registry: versions, aliases, lineage and deduplicated storage for ML models",
    )
    .version(cliVersion(), "-V, --version")
    .option("--url <url>", "talk to a `cairn serve` server instead of the local store (default: $CAIRN_URL)")
    .option("--token <token>", "the bearer token for --url (default: $CAIRN_TOKEN)")
    .showSuggestionAfterError()
    // Program options only before the subcommand, so `push --version 1.2.0` is push's own option.
    .enablePositionalOptions()
    .addHelpText(
      "after",
      `
The store: the nearest .cairn/ folder above the working folder (like git), or $CAIRN_HOME; with --url or
$CAIRN_URL, a shared registry run by \`cairn serve\` (every command then goes through its API).
Refs: name@1.2.0, name@production, name@latest, name@^1.2, name#3.

Examples:
  $ cairn init
  $ cairn push classifier ./model --metric accuracy=0.93 --param lr=0.01 --data iris@1.0.0
  $ cairn alias set classifier production 0.1.0
  $ cairn pull classifier@production -o ./serving
  $ cairn rollback classifier production
`,
    );
  registerInit(program);
  registerPush(program);
  registerList(program);
  registerShow(program);
  registerPull(program);
  registerDiff(program);
  registerAlias(program);
  registerRollback(program);
  registerTag(program);
  registerNotes(program);
  registerLog(program);
  registerVerify(program);
  registerGc(program);
  registerStats(program);
  registerFsck(program);
  registerMigrate(program);
  registerServe(program);
  registerToken(program);
  registerRun(program);
  registerPromote(program);
  registerMetrics(program);
  registerSearch(program);
  registerLineage(program);
  registerReproduce(program);
  // Usage errors surface through the catch in main(), where they get the same shape as every other error.
  const quiet = (command: Command) => {
    command.exitOverride().configureOutput({ outputError: () => {} });
    for (const sub of command.commands) quiet(sub);
  };
  quiet(program);
  return program;
}

function toCairnError(error: unknown): CairnError {
  if (error instanceof CairnError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOSPC") return new CairnError("INTERNAL", "the disk is full", { cause: error });
  if (code === "EACCES" || code === "EPERM") {
    return new CairnError("INVALID", `permission denied: ${(error as NodeJS.ErrnoException).path ?? ""}`, {
      cause: error,
    });
  }
  return new CairnError("INTERNAL", `unexpected failure: ${(error as Error)?.message ?? String(error)}`, {
    cause: error,
  });
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  try {
    await buildProgram().parseAsync(argv, { from: "user" });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof AlreadyReported) return error.exitCode;
    if (error instanceof CommanderError) {
      // --help and --version end through here too, with exit code 0.
      if (error.exitCode === 0) return EXIT_OK;
      printError(new CairnError("USAGE", error.message.replace(/^error: /, "")), json);
      if (!json) process.stderr.write("(see `cairn --help`)\n");
      return EXIT_USAGE;
    }
    const cairnError = toCairnError(error);
    printError(cairnError, json);
    if (cairnError.code === "INTERNAL" && process.env["CAIRN_DEBUG"]) console.error(error);
    return cairnError.code === "USAGE" ? EXIT_USAGE : EXIT_ERROR;
  }
}
