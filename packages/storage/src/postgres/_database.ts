/**
 * @module A small pool of PostgreSQL connections and the two transaction shapes every store method uses: a
 * snapshot read, and a write that commits whole or not at all (run again on a deadlock or serialization
 * failure). `pg` is loaded only when a PostgreSQL store is opened.
 */
import { CairnError } from "@cairn/core";
import type { Pool, PoolClient, QueryResultRow } from "pg";
import { isRetryable, toCairnError } from "./_errors.js";

/** The statements a store method runs, inside a transaction or on their own. */
export interface Sql {
  /** The rows of one statement. */
  rows<R extends QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
  /** The first row, or undefined. */
  maybe<R extends QueryResultRow>(text: string, values?: unknown[]): Promise<R | undefined>;
  /** Runs one statement and returns how many rows it changed. */
  run(text: string, values?: unknown[]): Promise<number>;
  /** Several statements without parameters, in one round trip (schema changes, temporary tables). */
  exec(text: string): Promise<void>;
  /** The connection itself, for COPY. */
  readonly client: PoolClient;
}

export interface DatabaseOptions {
  url: string;
  /** Connections in the pool (default 4): a few are enough, each server process has its own pool. */
  poolSize?: number;
  /** How long to wait for a connection before failing (default 10 s). */
  connectTimeoutMs?: number;
}

const DEFAULT_POOL_SIZE = 4;
const MAX_ATTEMPTS = 8;
const INT8_OID = 20;

/** Where the URL points (host, port, database), never its user or password: for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.host}${parsed.pathname}`;
  } catch {
    return "the configured database";
  }
}

type Pg = typeof import("pg")["default"];

async function loadPg(): Promise<Pg> {
  try {
    return (await import("pg")).default;
  } catch (error) {
    throw new CairnError("INTERNAL", "the PostgreSQL driver needs the npm package pg", {
      hint: "npm install pg",
      cause: error,
    });
  }
}

/** A random pause before a retry, so two transactions that collided do not collide again in step. */
const backoff = (attempt: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * 2 ** Math.min(attempt, 6)));

export class Database {
  /** host:port/database, for messages. */
  readonly where: string;
  private readonly pool: Pool;
  /** Statement text → prepared-statement name: each connection prepares a statement once, then reuses it. */
  private readonly names = new Map<string, string>();
  private closed = false;

  private constructor(pool: Pool, where: string) {
    this.pool = pool;
    this.where = where;
  }

  static async connect(options: DatabaseOptions): Promise<Database> {
    const pg = await loadPg();
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? DEFAULT_POOL_SIZE,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      application_name: "cairn",
      // Ids, sizes and counts are bigint; as numbers they are exact up to 2^53, far past any of them.
      types: {
        getTypeParser: ((oid: number, format?: "text" | "binary") =>
          oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    });
    // An idle connection that drops (a server restart) must not crash the process: the next query that
    // needs a connection opens a new one, or reports the failure to its caller.
    pool.on("error", () => {});
    return new Database(pool, redactUrl(options.url));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /** One statement on any connection of the pool: it sees one snapshot without a transaction around it. */
  query<R extends QueryResultRow>(doing: string, text: string, values: unknown[] = []): Promise<R[]> {
    return this.guard(doing, async () => (await this.pool.query(this.prepared(text, values))).rows as R[]);
  }

  /** `query` in the shape of a transaction's statements, for helpers that run either way. */
  pooled(doing: string): Pick<Sql, "rows" | "maybe"> {
    return {
      rows: <R extends QueryResultRow>(text: string, values?: unknown[]) =>
        this.query<R>(doing, text, values),
      // A first row of any shape: the caller names the row type, as with `rows`.
      maybe: (async (text: string, values?: unknown[]) =>
        (await this.query(doing, text, values))[0]) as Sql["maybe"],
    };
  }

  /** Several reads that must see one snapshot, whatever commits meanwhile. */
  read<T>(doing: string, body: (sql: Sql) => Promise<T>): Promise<T> {
    return this.transaction(doing, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body);
  }

  /**
   * A write: all of it commits, or none. READ COMMITTED, so a statement that waited for a lock (a row lock, an
   * advisory lock) then sees what the transaction it waited for committed; the methods take the locks their
   * rules need. A deadlock or serialization failure runs `body` again from the start.
   */
  write<T>(doing: string, body: (sql: Sql) => Promise<T>): Promise<T> {
    return this.transaction(doing, "BEGIN ISOLATION LEVEL READ COMMITTED", body);
  }

  private async transaction<T>(doing: string, begin: string, body: (sql: Sql) => Promise<T>): Promise<T> {
    return this.guard(doing, async () => {
      for (let attempt = 1; ; attempt++) {
        const client = await this.pool.connect();
        let broken: Error | undefined;
        try {
          await client.query(begin);
          const result = await body(this.sql(client));
          await client.query("COMMIT");
          return result;
        } catch (error) {
          try {
            await client.query("ROLLBACK");
          } catch (rollbackError) {
            // The connection is unusable: the pool must not hand it out again.
            broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
          }
          if (!isRetryable(error) || attempt >= MAX_ATTEMPTS) throw error;
        } finally {
          client.release(broken);
        }
        await backoff(attempt);
      }
    });
  }

  private sql(client: PoolClient): Sql {
    const rows = async <R extends QueryResultRow>(text: string, values: unknown[] = []) =>
      (await client.query(this.prepared(text, values))).rows as R[];
    return {
      client,
      rows,
      maybe: (async (text: string, values?: unknown[]) => (await rows(text, values))[0]) as Sql["maybe"],
      run: async (text, values = []) => (await client.query(this.prepared(text, values))).rowCount ?? 0,
      exec: async (text) => {
        await client.query(text);
      },
    };
  }

  private prepared(text: string, values: unknown[]) {
    let name = this.names.get(text);
    if (name === undefined) {
      name = `cairn_${this.names.size + 1}`;
      this.names.set(text, name);
    }
    return { name, text, values };
  }

  private async guard<T>(doing: string, body: () => Promise<T>): Promise<T> {
    if (this.closed) throw new CairnError("INTERNAL", `the metadata store at ${this.where} is closed`);
    try {
      return await body();
    } catch (error) {
      throw toCairnError(error, doing, this.where);
    }
  }
}
