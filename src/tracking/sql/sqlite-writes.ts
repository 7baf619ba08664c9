import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type Database from "better-sqlite3";
import type { TaskEvent, TaskLogLine } from "../tracking-store.js";
import { upsertTasksSql } from "./merge.js";
import { collapseEvents } from "./record.js";
import { logLineToRow } from "./rows.js";
import { retryWhileBusy, type SqliteFile } from "./sqlite-file.js";

// SQLite's write path for events and log lines: one single-row statement each, prepared once per
// connection with better-sqlite3 and run once per row inside a transaction. Same merge SQL as
// PostgreSQL's multi-row upserts (merge.ts), but nothing is compiled or prepared per flush: a
// 500-row statement built through Kysely cost a query compilation and a `prepare` on every flush,
// each as long as running it, and left a large statement behind for the garbage collector.
//
// better-sqlite3 runs on the event loop's thread, so a large batch of events is written as several
// transactions of at most ROWS_PER_TRANSACTION rows with a turn of the event loop in between:
// handlers, lease extensions and acks never wait for more than one of them. Each transaction
// waits for another process's write lock on its own (sqlite-file.ts), so that wait never writes
// a part twice. Splitting is safe because `record` is idempotent: a batch that fails half-written
// for another reason is written again whole by the best-effort writer, and the rows already
// merged merge to the same result. Log lines are appended, not merged, so each call stays one
// transaction (a flush carries at most maxFlushItems of them, events first).

/** Rows per transaction: about 15–25 ms of synchronous work on the 2-core bench machine. */
const ROWS_PER_TRANSACTION = 1_000;

const LOG_COLUMNS = ["task_id", "attempt", "at", "level", "message"] as const;

export class SqliteWrites {
  readonly #file: SqliteFile;
  // Prepared on first use: the tables exist only once migrate() ran.
  #upsertTask: Database.Statement | undefined;
  #insertLog: Database.Statement | undefined;

  constructor(file: SqliteFile) {
    this.#file = file;
  }

  /** One transaction, retried alone while another process holds the write lock. */
  #transaction(work: (db: Database.Database) => void): Promise<void> {
    return retryWhileBusy(() => this.#file.transaction(work));
  }

  async recordEvents(events: readonly TaskEvent[]): Promise<void> {
    // No id order needed: a single SQLite writer cannot deadlock on row locks.
    const rows = collapseEvents(events, { sorted: false });
    for (let start = 0; start < rows.length; start += ROWS_PER_TRANSACTION) {
      if (start > 0) await yieldToEventLoop();
      const end = Math.min(rows.length, start + ROWS_PER_TRANSACTION);
      await this.#transaction((db) => {
        this.#upsertTask ??= db.prepare(upsertTasksSql(1, (_row, _i, column) => `@${column}`));
        for (let i = start; i < end; i += 1) this.#upsertTask.run(rows[i]);
      });
    }
  }

  async appendLogLines(lines: readonly TaskLogLine[]): Promise<void> {
    await this.#transaction((db) => {
      this.#insertLog ??= db.prepare(
        `insert into task_logs (${LOG_COLUMNS.join(", ")}) values (${LOG_COLUMNS.map((c) => `@${c}`).join(", ")})`,
      );
      for (const line of lines) this.#insertLog.run(logLineToRow(line));
    });
  }
}
