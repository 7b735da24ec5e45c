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
  /** Writes begun on this connection, for `changeMark`. */
  private writes = 0;
  private readonly statements = new Map<string, Database.Statement<unknown[], unknown>>();
  /**
   * One transaction wrapper for every body, made once: better-sqlite3 builds a wrapper per `transaction()`
   * call, which cost a server as much per request as the BEGIN and COMMIT themselves.
   */
  private readonly inTransaction: Database.Transaction<(body: () => unknown) => unknown>;

  constructor(db: Db, path: string) {
    this.db = db;
    this.path = path;
    this.inTransaction = db.transaction((body: () => unknown) => body());
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

  /**
   * A mark that differs once anything has been committed since it was last read: `data_version` moves when
   * another connection (another process) commits, the count of `write` calls when this one does (every
   * write of this connection goes through `write`). One statement without a transaction, so reading it costs
   * far less than the lookups it saves.
   */
  changeMark(): string {
    if (!this.db.open) throw new CairnError("INTERNAL", `the metadata store ${this.path} is closed`);
    try {
      return `${this.sql("PRAGMA data_version").pluck().get()}:${this.writes}`;
    } catch (error) {
      throw toCairnError(error, "cannot read the store's change mark");
    }
  }

  /** Runs reads in one deferred transaction, so a multi-query read sees one snapshot despite other writers. */
  read<T>(doing: string, body: () => T): Promise<T> {
    return this.run(doing, () => this.inTransaction.deferred(body) as T);
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
    return this.run(doing, () => {
      // Counted whether it commits or not: a mark that moves without a change only costs a lookup.
      this.writes++;
      return this.inTransaction.immediate(body) as T;
    });
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
