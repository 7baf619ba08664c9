import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { collapseEvents } from "./record.js";
import { BUSY_WAIT_MS } from "./sqlite-file.js";
import type { WriteReply, WriteRequest, WriteThreadData } from "./sqlite-write-protocol.js";
import { SqliteWriteStatements } from "./sqlite-writes.js";

// The body of the SQLite tracking write thread (sqlite-write-thread.ts starts it): its own
// connection to the database file, one transaction per batch the main thread posts, and one reply
// per batch. Messages are handled one at a time in arrival order, so batches are written in the
// order the best-effort writer flushed them.
//
// This thread may block: while another connection (the main thread's, or another process's)
// holds the write lock, SQLite's own busy handler waits here, up to BUSY_WAIT_MS, and nothing of
// the API or the worker waits with it. Hence a real busy_timeout here, where the event loop's
// connection keeps 0 and waits with timers (sqlite-file.ts).

const port = parentPort;
if (!port) throw new Error("sqlite-write-worker.ts runs only as a worker thread");
const { filename } = workerData as WriteThreadData;

let db: Database.Database | undefined;
let statements: SqliteWriteStatements | undefined;

/** Opened on the first batch, and again after a failed open (the directory may come back). */
function open(): { db: Database.Database; statements: SqliteWriteStatements } {
  if (!db || !statements) {
    const database = new Database(filename);
    try {
      database.pragma(`busy_timeout = ${BUSY_WAIT_MS}`);
      // Per connection: NORMAL in WAL mode, as on the main thread's connection (sqlite-file.ts).
      database.pragma("synchronous = NORMAL");
    } catch (error) {
      database.close();
      throw error;
    }
    db = database;
    statements = new SqliteWriteStatements(database);
  }
  return { db, statements };
}

function write(request: Extract<WriteRequest, { id: number }>): void {
  const { db: database, statements: s } = open();
  // Collapsed before the transaction: the write lock is held only for the statements.
  const rows = request.kind === "events" ? collapseEvents(request.items, { sorted: false }) : [];
  database.exec("begin immediate");
  try {
    if (request.kind === "events") s.upsertRows(rows);
    else s.insertLogs(request.items);
    database.exec("commit");
  } catch (error) {
    if (database.inTransaction) database.exec("rollback");
    throw error;
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

port.on("message", (request: WriteRequest) => {
  if (request.kind === "close") {
    db?.close();
    db = undefined;
    port.close();
    return;
  }
  let reply: WriteReply;
  try {
    write(request);
    reply = { id: request.id, ok: true };
  } catch (error) {
    reply = { ...describe(error), id: request.id };
  }
  port.postMessage(reply);
});
