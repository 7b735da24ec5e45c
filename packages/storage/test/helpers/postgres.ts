/**
 * @module A throwaway PostgreSQL database per test file, on the server at CAIRN_TEST_DATABASE_URL (default: the
 * local server, user postgres). Without a reachable server the suite is skipped with the reason printed —
 * except in CI (CI=true), where a missing backend is a failure, never a silent pass.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, describe, it } from "vitest";

export const SERVER_URL =
  process.env.CAIRN_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export interface ThrowawayDatabase {
  /** The URL of the throwaway database. */
  url: string;
  /** Empties it (every table, view and sequence cairn made), as if freshly created. */
  reset(): Promise<void>;
  /** A plain client on it, for inspecting or tampering with what the store wrote. */
  admin: pg.Client;
}

/** `url` with its database replaced. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function create(label: string): Promise<ThrowawayDatabase> {
  const name = `cairn_test_${label}_${process.pid}_${randomBytes(4).toString("hex")}`;
  const server = new pg.Client({ connectionString: SERVER_URL, connectionTimeoutMillis: 5000 });
  await server.connect();
  try {
    await server.query(`CREATE DATABASE ${name}`);
  } finally {
    await server.end();
  }
  const url = withDatabase(SERVER_URL, name);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  afterAll(async () => {
    await admin.end();
    const dropper = new pg.Client({ connectionString: SERVER_URL });
    await dropper.connect();
    try {
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await dropper.end();
    }
  });
  return {
    url,
    admin,
    reset: async () => {
      await admin.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    },
  };
}

/**
 * Declares `body`'s tests over a throwaway database made for this file, or, when PostgreSQL is unreachable,
 * one skipped suite saying why (one failing test when CI=true).
 */
export async function describePostgres(label: string, body: (db: ThrowawayDatabase) => void): Promise<void> {
  let db: ThrowawayDatabase;
  try {
    db = await create(label);
  } catch (error) {
    const reason = `PostgreSQL at ${new URL(SERVER_URL).host} is not usable (${error instanceof Error ? error.message : String(error)}); set CAIRN_TEST_DATABASE_URL`;
    if (process.env.CI === "true") {
      describe(`PostgreSQL ${label}`, () => {
        it("needs a PostgreSQL server in CI", () => {
          throw new Error(reason);
        });
      });
    } else {
      console.warn(`skipping the PostgreSQL ${label} tests: ${reason}`);
      describe.skip(`PostgreSQL ${label} (${reason})`, () => {
        it("needs a PostgreSQL server", () => {});
      });
    }
    return;
  }
  body(db);
}
