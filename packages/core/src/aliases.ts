/**
 * @module Alias rules: what a rollback moves to. Pure planning over an alias's history, applied by the registry.
 */
import { conflict } from "./errors.js";
import type { AliasEvent } from "./types.js";

/**
 * Index of the target a rollback returns to: the nearest earlier entry that is a version other than the
 * current one. Removals (null) are skipped: rolling back restores a version, never an absence.
 */
function previousTargetIndex(stack: ReadonlyArray<string | null>): number {
  const current = stack[stack.length - 1] ?? null;
  for (let i = stack.length - 2; i >= 0; i--) {
    const target = stack[i];
    if (target != null && target !== current) return i;
  }
  return -1;
}

/**
 * The stack of targets an alias has held, replayed from its history: a set (or a removal, as null) pushes,
 * and a rollback to the previous target pops back to it. So rolling back twice after three releases returns
 * to the first, like undo, rather than flipping between the last two.
 */
export function aliasTargetStack(history: readonly AliasEvent[]): Array<string | null> {
  const stack: Array<string | null> = [];
  for (const event of history) {
    const previous = event.action === "rollback" ? previousTargetIndex(stack) : -1;
    if (previous >= 0 && stack[previous] === event.to) stack.length = previous + 1;
    else stack.push(event.to);
  }
  return stack;
}

export interface RollbackPlan {
  from: string | null;
  to: string;
}

/** Where `rollback` moves an alias: to `to` when given, else to the target it held before its current one. */
export function planRollback(
  artifact: string,
  alias: string,
  history: readonly AliasEvent[],
  to?: string,
): RollbackPlan {
  const stack = aliasTargetStack(history);
  const from = stack[stack.length - 1] ?? null;
  if (to !== undefined) {
    if (from === to) throw conflict(`${artifact}@${alias} already points at ${to}`);
    return { from, to };
  }
  const previous = previousTargetIndex(stack);
  const target = previous >= 0 ? stack[previous] : null;
  if (target == null) {
    throw conflict(`${artifact}@${alias} has no earlier target to roll back to`, {
      hint: `see \`cairn alias history ${artifact} ${alias}\`, or name one with --to VERSION`,
    });
  }
  return { from, to: target };
}
