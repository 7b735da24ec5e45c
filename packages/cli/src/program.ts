/**
 * @module Shared plumbing for subcommands: every command takes --json, prints examples in its help, and runs
 * inside one top-level error handler (see main.ts).
 */
import type { Command } from "commander";
import { type Context, createContext } from "./context.js";

export interface CommandSpec {
  name: string;
  description: string;
  examples: string[];
}

/** Adds a subcommand with --json and an Examples section in its help. */
export function defineCommand(parent: Command, spec: CommandSpec): Command {
  return parent
    .command(spec.name)
    .description(spec.description)
    .option("--json", "print machine-readable JSON on stdout")
    .addHelpText("after", `\nExamples:\n${spec.examples.map((e) => `  $ ${e}`).join("\n")}\n`);
}

/** Collects a repeatable option (`--tag a=1 --tag b=2`). */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Wraps an action so it gets a Context built from the command's own --json flag. */
export function withContext<A extends unknown[]>(
  body: (ctx: Context, ...args: A) => Promise<void>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const options = command.optsWithGlobals<{ json?: boolean; url?: string; token?: string }>();
    const globals = {
      ...(options.url !== undefined ? { url: options.url } : {}),
      ...(options.token !== undefined ? { token: options.token } : {}),
    };
    await body(createContext(options.json === true, process.cwd(), globals), ...(args.slice(0, -1) as A));
  };
}
