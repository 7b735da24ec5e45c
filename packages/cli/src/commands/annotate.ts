/**
 * @module `cairn tag` and `cairn notes`: the parts of a version that stay editable; every edit is audited.
 */
import { CairnError } from "@cairn/core";
import type { Command } from "commander";
import { collect, defineCommand, withContext } from "../program.js";
import { withBackend } from "../registry-backend.js";
import { readNotes, readTags } from "../values.js";

export function registerTag(program: Command): void {
  defineCommand(program, {
    name: "tag",
    description: "set labels (K=V) on a version, or remove them with --rm K",
    examples: [
      "cairn tag classifier@1.2.0 team=nlp reviewed=yes",
      "cairn tag classifier@1.2.0 --rm reviewed",
    ],
  })
    .argument("<ref>", "the version")
    .argument("[pairs...]", "labels as KEY=VALUE")
    .option("--rm <key>", "remove a label (repeatable)", collect)
    .action(
      withContext(async (ctx, ref: string, pairs: string[], opts: { rm?: string[] }) => {
        if (pairs.length === 0 && (opts.rm ?? []).length === 0) {
          throw new CairnError("USAGE", "give labels as KEY=VALUE, or --rm KEY");
        }
        const set = readTags(pairs);
        const version = await withBackend(ctx, (r) => r.tag(ref, set, opts.rm ?? []));
        ctx.out.result({ name: version.name, version: version.version, tags: version.tags }, () =>
          Object.keys(version.tags).length === 0
            ? `${version.name}@${version.version} has no tags`
            : Object.entries(version.tags).map(([k, v]) => `${k}=${v}`),
        );
      }),
    );
}

export function registerNotes(program: Command): void {
  defineCommand(program, {
    name: "notes",
    description: "print a version's release notes, or set them with -m TEXT or --notes FILE",
    examples: [
      "cairn notes classifier@1.2.0",
      "cairn notes classifier@1.2.0 -m 'Fixes the tokenizer bug'",
      "cairn notes classifier@1.2.0 --notes NOTES.md",
    ],
  })
    .argument("<ref>", "the version")
    .option("-m, --message <text>", "new notes")
    .option("--notes <file>", "new notes from a file")
    .action(
      withContext(async (ctx, ref: string, opts: { message?: string; notes?: string }) => {
        const notes = await readNotes(opts.message, opts.notes);
        const version = await withBackend(ctx, (r) =>
          notes === undefined ? r.resolve(ref) : r.setNotes(ref, notes),
        );
        ctx.out.result({ name: version.name, version: version.version, notes: version.notes }, () =>
          notes !== undefined
            ? `notes of ${version.name}@${version.version} updated`
            : version.notes || "(no notes)",
        );
      }),
    );
}
