/**
 * @module COPY … FROM STDIN, PostgreSQL's bulk path (pg-copy-streams), loaded only when a bulk load runs.
 */
import { CairnError } from "@cairn/core";

export async function loadCopyStreams(): Promise<typeof import("pg-copy-streams")> {
  try {
    return await import("pg-copy-streams");
  } catch (error) {
    throw new CairnError("INTERNAL", "bulk loads into PostgreSQL need the npm package pg-copy-streams", {
      hint: "npm install pg-copy-streams",
      cause: error,
    });
  }
}
