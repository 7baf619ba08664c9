import type { MessagePort } from "node:worker_threads";
import Database from "better-sqlite3";
import { collapseEvents } from "./record.js";
import { BUSY_WAIT_MS } from "./sqlite-file.js";
import type { WriteReply, WriteRequest, WriteThreadData } from "./sqlite-write-protocol.js";
import { SqliteWriteStatements } from "./sqlite-writes.js";

// The body of the SQLite tracking write thread (sqlite-write-thread.ts starts the thread, whose
// entry script sqlite-write-worker.ts calls `serveWrites`): its own
// connection to the database file, one transaction per batch the main thread posts, and one reply
// per batch. Messages are handled one at a time in arrival order, so batches are written in the
// order the best-effort writer flushed them.
//
// This thread may block: while another connection (the main thread's, or another process's)
// holds the write lock, SQLite's own busy handler waits here, up to BUSY_WAIT_MS, and nothing of
// the API or the worker waits with it. Hence a real busy_timeout here, where the event loop's
// connection keeps 0 and waits with timers (sqlite-file.ts).

/** Called with each request before it is handled (tests inject faults here). */
export type BeforeWrite = (request: WriteRequest) => void;

export function serveWrites(
  port: MessagePort,
  data: WriteThreadData,
  beforeWrite?: BeforeWrite,
): void {
  const writer = new ThreadWriter(data.filename);
  port.on("message", (request: WriteRequest) => {
    beforeWrite?.(request);
    if (request.kind === "close") {
      writer.close();
      port.close();
      return;
    }
    let reply: WriteReply;
    try {
      writer.write(request);
      reply = { id: request.id, ok: true };
    } catch (error) {
      reply = { ...describe(error), id: request.id };
    }
    port.postMessage(reply);
  });
}

class ThreadWriter {
  readonly #filename: string;
  #db: Database.Database | undefined;
  #statements: SqliteWriteStatements | undefined;

  constructor(filename: string) {
    this.#filename = filename;
  }

  /** Opened on the first batch, and again after a failed open (the directory may come back). */
  #open(): { db: Database.Database; statements: SqliteWriteStatements } {
    if (!this.#db || !this.#statements) {
      const database = new Database(this.#filename);
      try {
        database.pragma(`busy_timeout = ${BUSY_WAIT_MS}`);
        // Per connection: NORMAL in WAL mode, as on the main thread's connection (sqlite-file.ts).
        database.pragma("synchronous = NORMAL");
      } catch (error) {
        database.close();
        throw error;
      }
      this.#db = database;
      this.#statements = new SqliteWriteStatements(database);
    }
    return { db: this.#db, statements: this.#statements };
  }

  write(request: Extract<WriteRequest, { id: number }>): void {
    const { db, statements } = this.#open();
    // Collapsed before the transaction: the write lock is held only for the statements.
    const rows = request.kind === "events" ? collapseEvents(request.items, { sorted: false }) : [];
    db.exec("begin immediate");
    try {
      if (request.kind === "events") statements.upsertRows(rows);
      else statements.insertLogs(request.items);
      db.exec("commit");
    } catch (error) {
      if (db.inTransaction) db.exec("rollback");
      throw error;
    }
  }

  close(): void {
    this.#db?.close();
    this.#db = undefined;
    this.#statements = undefined;
  }
}

function describe(error: unknown): WriteReply & { ok: false } {
  const message = error instanceof Error ? error.message : String(error);
  const code =
    typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
      ? error.code
      : undefined;
  return { id: 0, ok: false, message, ...(code !== undefined ? { code } : {}) };
}
