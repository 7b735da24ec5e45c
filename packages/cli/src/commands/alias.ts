/**
 * @module `cairn alias` and `cairn rollback`: move named pointers such as production, with a full history, and
 * protect the ones that matter (on a server, moving a protected alias needs an admin token).
 */
import type { AliasEvent } from "@cairn/core";
import type { Command } from "commander";
import { formatTime, table } from "../output.js";
import { defineCommand, withContext } from "../program.js";
import { withBackend } from "../registry-backend.js";

const describeMove = (e: AliasEvent): string =>
  e.to === null
    ? `removed ${e.artifact}@${e.alias} (was ${e.from})`
    : `${e.artifact}@${e.alias} → ${e.to}${e.from ? ` (was ${e.from})` : ""}`;

export function registerAlias(program: Command): void {
  const alias = program
    .command("alias")
    .description("point aliases such as production at versions, and read their history")
    .addHelpText(
      "after",
      "\nExamples:\n  $ cairn alias set classifier production 1.2.0 --reason 'passed eval'\n" +
        "  $ cairn alias history classifier production\n  $ cairn alias rm classifier staging\n" +
        "  $ cairn alias protect classifier production\n",
    );

  defineCommand(alias, {
    name: "set",
    description: "point ALIAS of NAME at VERSION",
    examples: ["cairn alias set classifier production 1.2.0 --reason 'A/B test won'"],
  })
    .argument("<name>", "artifact")
    .argument("<alias>", "alias name, e.g. production")
    .argument("<version>", "exact version")
    .option("--reason <text>", "why, kept in the history")
    .action(
      withContext(
        async (ctx, name: string, aliasName: string, version: string, opts: { reason?: string }) => {
          const event = await withBackend(ctx, (r) =>
            r.setAlias(name, aliasName, version, opts.reason ?? null),
          );
          ctx.out.result(event, () => describeMove(event));
        },
      ),
    );

  defineCommand(alias, {
    name: "rm",
    description: "remove ALIAS from NAME (the removal is kept in the history)",
    examples: ["cairn alias rm classifier staging"],
  })
    .argument("<name>", "artifact")
    .argument("<alias>", "alias name")
    .option("--reason <text>", "why, kept in the history")
    .action(
      withContext(async (ctx, name: string, aliasName: string, opts: { reason?: string }) => {
        const event = await withBackend(ctx, (r) => r.removeAlias(name, aliasName, opts.reason ?? null));
        ctx.out.result(event, () => describeMove(event));
      }),
    );

  for (const [command, isProtected] of [
    ["protect", true],
    ["unprotect", false],
  ] as const) {
    defineCommand(alias, {
      name: command,
      description: isProtected
        ? "protect ALIAS of NAME: on a server, moving it (set, rm, rollback) then needs an admin token"
        : "unprotect ALIAS of NAME: writers may move it again",
      examples: [`cairn alias ${command} classifier production`],
    })
      .argument("<name>", "artifact")
      .argument("<alias>", "alias name")
      .action(
        withContext(async (ctx, name: string, aliasName: string) => {
          const result = await withBackend(ctx, (r) => r.setAliasProtection(name, aliasName, isProtected));
          ctx.out.result(result, () =>
            isProtected
              ? `protected ${name}@${aliasName}: moving it needs an admin token`
              : `unprotected ${name}@${aliasName}`,
          );
        }),
      );
  }

  defineCommand(alias, {
    name: "history",
    description: "every move of NAME's aliases (or of one ALIAS), oldest first",
    examples: ["cairn alias history classifier", "cairn alias history classifier production --json"],
  })
    .argument("<name>", "artifact")
    .argument("[alias]", "only this alias")
    .action(
      withContext(async (ctx, name: string, aliasName: string | undefined) => {
        const events = await withBackend(ctx, (r) => r.aliasHistory(name, aliasName));
        ctx.out.result(events, () =>
          events.length === 0
            ? "no alias moves yet"
            : table(
                ["TIME", "ALIAS", "ACTION", "FROM", "TO", "BY", "REASON"],
                events.map((e) => [
                  formatTime(e.at),
                  e.alias,
                  e.action,
                  e.from ?? "-",
                  e.to ?? "-",
                  e.actor,
                  e.reason ?? "",
                ]),
              ),
        );
      }),
    );
}

export function registerRollback(program: Command): void {
  defineCommand(program, {
    name: "rollback",
    description: "move ALIAS of NAME back to the version it pointed at before (or to --to VERSION)",
    examples: [
      "cairn rollback classifier production --reason 'latency regression'",
      "cairn rollback classifier production --to 1.0.0",
    ],
  })
    .argument("<name>", "artifact")
    .argument("<alias>", "alias name, e.g. production")
    .option("--to <version>", "roll back to this version instead")
    .option("--reason <text>", "why, kept in the history")
    .action(
      withContext(async (ctx, name: string, aliasName: string, opts: { to?: string; reason?: string }) => {
        const event = await withBackend(ctx, (r) =>
          r.rollback(name, aliasName, {
            ...(opts.to !== undefined ? { to: opts.to } : {}),
            reason: opts.reason ?? null,
          }),
        );
        ctx.out.result(event, () => `rolled back ${describeMove(event)}`);
      }),
    );
}
