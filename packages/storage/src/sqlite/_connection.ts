/**
 * @module One SQLite connection with cached statements and the two transaction shapes every store method
 * uses: a snapshot read, and a write under the database's write lock.
 */
import { CairnError } from "@cairn/core";
import type Database from "better-sqlite3";
import { toCairnError } from "./_errors.js";
import type { Db } from "./_open.js";

export class Connection {
  readonly db: Db;
  /** The database file, for messages. */
  readonly path: string;
  private readonly statements = new Map<string, Database.Statement<unknown[], unknown>>();

  constructor(db: Db, path: string) {
    this.db = db;
    this.path = path;
  }

  get open(): boolean {
    return this.db.open;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** A prepared statement, cached: preparing is most of the cost of a small query. */
  sql<R = unknown>(source: string): Database.Statement<unknown[], R> {
    let statement = this.statements.get(source);
    if (statement === undefined) {
      statement = this.db.prepare(source);
      this.statements.set(source, statement);
    }
    return statement as Database.Statement<unknown[], R>;
  }

  /** Runs reads in one deferred transaction, so a multi-query read sees one snapshot despite other writers. */
  read<T>(doing: string, body: () => T): Promise<T> {
    return this.run(doing, () => this.db.transaction(body).deferred());
  }

  /**
   * Runs one statement's read without a transaction: a single statement already sees one snapshot, and the
   * per-request lookups (a bearer token) are cheaper without BEGIN and COMMIT around them.
   */
  readOne<T>(doing: string, body: () => T): Promise<T> {
    return this.run(doing, body);
  }

  /**
   * Runs a write under the database's write lock (BEGIN IMMEDIATE): all of it commits, or none; another
   * process's writer waits (busy_timeout) instead of failing half-way on a lock upgrade.
   */
  write<T>(doing: string, body: () => T): Promise<T> {
    return this.run(doing, () => this.db.transaction(body).immediate());
  }

  private run<T>(doing: string, body: () => T): Promise<T> {
    try {
      if (!this.db.open) throw new CairnError("INTERNAL", `the metadata store ${this.path} is closed`);
      return Promise.resolve(body());
    } catch (error) {
      return Promise.reject(toCairnError(error, doing));
    }
  }
}
