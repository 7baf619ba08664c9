import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type Database from "better-sqlite3";
import { logLineToRow } from "../records/rows.js";
import type { TaskValues } from "../records/schema.js";
import type { TaskEvent, TaskLogLine } from "../tracking-store.js";
import { upsertTasksSql } from "./merge.js";
import { collapseEvents } from "./record.js";
import { retryWhileBusy, type SqliteFile } from "./sqlite-file.js";

// SQLite's write path for events and log lines: one single-row statement each, prepared once per
// connection with better-sqlite3 and run once per row inside a transaction. Same merge SQL as
// PostgreSQL's multi-row upserts (merge.ts), but nothing is compiled or prepared per flush: a
// 500-row statement built through Kysely cost a query compilation and a `prepare` on every flush,
// each as long as running it, and left a large statement behind for the garbage collector.
//
// Two users: the write thread (sqlite-write-worker.ts), which owns its own connection to a
// database file and runs each batch as one transaction, and `SqliteWrites` below, the same writes
// on the event loop's thread for `sqlite::memory:` (a memory database cannot be shared with
// another thread).

const LOG_COLUMNS = ["task_id", "attempt", "at", "level", "message"] as const;

/** The two statements of one connection, prepared on first use (the tables exist only once migrate() ran). */
export class SqliteWriteStatements {
  readonly #db: Database.Database;
  #upsertTask: Database.Statement | undefined;
  #insertLog: Database.Statement | undefined;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Runs inside the caller's transaction. */
  upsertRows(rows: readonly TaskValues[], start = 0, end = rows.length): void {
    this.#upsertTask ??= this.#db.prepare(upsertTasksSql(1, (_row, _i, column) => `@${column}`));
    for (let i = start; i < end; i += 1) this.#upsertTask.run(rows[i]);
  }

  /** Runs inside the caller's transaction. */
  insertLogs(lines: readonly TaskLogLine[]): void {
    this.#insertLog ??= this.#db.prepare(
      `insert into task_logs (${LOG_COLUMNS.join(", ")}) values (${LOG_COLUMNS.map((c) => `@${c}`).join(", ")})`,
    );
    for (const line of lines) this.#insertLog.run(logLineToRow(line));
  }
}

/** Rows per transaction on the event loop's thread: about 15–25 ms of synchronous work here. */
const ROWS_PER_TRANSACTION = 1_000;

/**
 * The writes on the event loop's thread (`sqlite::memory:` only). A large batch of events is
 * written as several transactions of at most ROWS_PER_TRANSACTION rows with a turn of the event
 * loop in between, so handlers, lease extensions and acks never wait for more than one of them.
 * Splitting is safe because `record` is idempotent: a batch that fails half-written is written
 * again whole by the best-effort writer, and the rows already merged merge to the same result.
 */
export class SqliteWrites {
  readonly #file: SqliteFile;
  readonly #statements: SqliteWriteStatements;

  constructor(file: SqliteFile) {
    this.#file = file;
    this.#statements = new SqliteWriteStatements(file.database);
  }

  /** One transaction, retried alone while another user holds the write lock. */
  #transaction(work: () => void): Promise<void> {
    return retryWhileBusy(() => this.#file.transaction(work));
  }

  async recordEvents(events: readonly TaskEvent[]): Promise<void> {
    // No id order needed: a single SQLite writer cannot deadlock on row locks.
    const rows = collapseEvents(events, { sorted: false });
    for (let start = 0; start < rows.length; start += ROWS_PER_TRANSACTION) {
      if (start > 0) await yieldToEventLoop();
      const end = Math.min(rows.length, start + ROWS_PER_TRANSACTION);
      await this.#transaction(() => this.#statements.upsertRows(rows, start, end));
    }
  }

  async appendLogLines(lines: readonly TaskLogLine[]): Promise<void> {
    await this.#transaction(() => this.#statements.insertLogs(lines));
  }
}
