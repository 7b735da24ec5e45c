/**
 * @module `cairn log`: the audit trail, newest first.
 */

import { CairnError } from "@cairn/core";
import type { Command } from "commander";
import { formatTime, table } from "../output.js";
import { defineCommand, withContext } from "../program.js";
import { withBackend } from "../registry-backend.js";

const brief = (value: unknown): string =>
  value === null || value === undefined ? "-" : typeof value === "string" ? value : JSON.stringify(value);

export function registerLog(program: Command): void {
  defineCommand(program, {
    name: "log",
    description: "audit events (who did what, when, before and after), newest first",
    examples: ["cairn log", "cairn log classifier -n 20", "cairn log --json"],
  })
    .argument("[name]", "only events of this artifact")
    .option("-n, --limit <count>", "how many events", "100")
    .action(
      withContext(async (ctx, name: string | undefined, opts: { limit: string }) => {
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1)
          throw new CairnError("USAGE", "--limit takes a whole number ≥ 1");
        const events = await withBackend(ctx, (r) => r.log(name, limit));
        ctx.out.result(events, () =>
          events.length === 0
            ? "no events yet"
            : table(
                ["TIME", "ACTOR", "ACTION", "TARGET", "CHANGE"],
                events.map((e) => [
                  formatTime(e.at),
                  e.actor,
                  e.action,
                  e.target,
                  `${brief(e.before)} → ${brief(e.after)}`,
                ]),
              ),
        );
      }),
    );
}
