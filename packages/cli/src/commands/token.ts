/**
 * @module `cairn token`: create, list and revoke the bearer tokens `cairn serve` checks. Works on the
 * embedded store directly (whoever can open the store's folder is its owner), or on a server with an admin
 * token. A token's secret is printed
 * once, at creation; the store keeps only its hash.
 */
import { type ApiToken, ROLES, type Role } from "@cairn/core";
import { type Command, Option } from "commander";
import { formatTime, table } from "../output.js";
import { defineCommand, withContext } from "../program.js";
import { withBackend } from "../registry-backend.js";

export function registerToken(program: Command): void {
  const token = program
    .command("token")
    .description("create, list and revoke the API tokens `cairn serve` checks (roles: reader, writer, admin)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ cairn token create --role writer --name ci\n  $ cairn token list\n" +
        "  $ cairn token revoke ci\n",
    );

  defineCommand(token, {
    name: "create",
    description:
      "create a token and print its secret (once; only its hash is kept). readers read; writers also push, " +
      "tag, write notes and move unprotected aliases; admins do everything",
    examples: [
      "cairn token create --role writer --name ci",
      "export CAIRN_TOKEN=$(cairn token create --role reader --name dashboards)",
      "cairn token create --role admin --name ops --json",
    ],
  })
    .addOption(new Option("--role <role>", "what the token may do").choices(ROLES).makeOptionMandatory())
    .requiredOption("--name <name>", "unique name; recorded as the actor of everything done with the token")
    .action(
      withContext(async (ctx, opts: { role: Role; name: string }) => {
        const { token: secret, created } = await withBackend(ctx, (r) => r.createToken(opts.name, opts.role));
        ctx.out.result(
          { token: secret, name: created.name, role: created.role, createdAt: created.createdAt },
          () => {
            // The secret alone on stdout, so `$(cairn token create …)` captures exactly it.
            ctx.out.note(
              `created ${created.role} token ${created.name}; it is shown only now: store it safely`,
            );
            return secret;
          },
        );
      }),
    );

  defineCommand(token, {
    name: "list",
    description: "list the tokens: name, role, when and by whom created (never their secrets)",
    examples: ["cairn token list", "cairn token list --json"],
  }).action(
    withContext(async (ctx) => {
      const tokens = await withBackend(ctx, (r) => r.listTokens());
      ctx.out.result(tokens, () =>
        tokens.length === 0
          ? "no tokens: `cairn serve` runs open, on loopback only"
          : table(
              ["NAME", "ROLE", "CREATED", "BY"],
              tokens.map((t: ApiToken) => [t.name, t.role, formatTime(t.createdAt), t.createdBy]),
            ),
      );
    }),
  );

  defineCommand(token, {
    name: "revoke",
    description: "revoke a token: requests bearing it are refused from now on",
    examples: ["cairn token revoke ci"],
  })
    .argument("<name>", "the token's name")
    .action(
      withContext(async (ctx, name: string) => {
        const revoked = await withBackend(ctx, (r) => r.revokeToken(name));
        ctx.out.result(revoked, () => `revoked ${revoked.role} token ${revoked.name}`);
      }),
    );
}
