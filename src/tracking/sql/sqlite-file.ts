import fs from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type Database from "better-sqlite3";

// One open SQLite tracking database: the better-sqlite3 handle, the lock its users in this process
// share, and how they wait for other processes. Used by the Kysely dialect (sqlite-dialect.ts:
// migrations, reads, heartbeats) and by the prepared-statement writes (sqlite-writes.ts).
//
// Waiting for another process's write lock never blocks the event loop. better-sqlite3 is
// synchronous: with a busy_timeout of N ms, a statement that finds the file locked sleeps the
// whole thread for up to N ms, so a worker's handlers, lease extensions and broker acks would all
// stall behind tracking, against "tracking never slows execution". (With the former
// 5 s, a tracking database locked by another process froze a worker for 5 s per flush attempt.)
// So the connection's busy_timeout is 0 once the file is open: SQLITE_BUSY comes back at once,
// and `retryWhileBusy` runs the work again after 1, 2, 5 … 50 ms timers, for up to BUSY_WAIT_MS;
// only then is the store reported unavailable (and the best-effort writer retries with its own
// backoff). Between two attempts the work holds nothing, so everything else of this process,
// reads of the same file included, goes on. What is retried: each transaction of the
// prepared-statement writes on its own (it fails busy at BEGIN, before writing anything), and
// the Kysely operations whole (migrations, heartbeats, purges and reads are all idempotent).
// The same loop makes concurrent migrate() calls from several processes safe: the loser of
// BEGIN IMMEDIATE, or of a CREATE TABLE IF NOT EXISTS, waits and migrates again, finding the
// work done.
//
// Within one process, two connections on the same file would deadlock (the holder cannot run its
// COMMIT while the waiter blocks the thread), and one connection must not start a transaction
// inside another user's transaction. So every user of a file in this process takes the file's
// lock first (`acquire`), shared by every SqliteFile of that path, and holds it for one query or
// one whole transaction.

/** How long work keeps trying while another process holds the write lock (timers, not sleeps). */
export const BUSY_WAIT_MS = 5_000;
/** Opening (WAL switch) happens once at start-up, before any task runs: there SQLite may wait. */
const OPEN_BUSY_TIMEOUT_MS = 5_000;
/** SQLite's own busy-handler schedule, in ms: short first, then coarser. */
const BUSY_DELAYS_MS = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50];

class Mutex {
  #tail: Promise<void> = Promise.resolve();

  /** Resolves with the function that releases the lock, once every earlier holder released it. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const ready = this.#tail.then(() => release);
    this.#tail = this.#tail.then(() => held);
    return ready;
  }
}

const fileLocks = new Map<string, { mutex: Mutex; users: number }>();

function lockFor(filename: string): { mutex: Mutex; release(): void } {
  if (filename === ":memory:" || filename === "") {
    return { mutex: new Mutex(), release() {} };
  }
  // The real path, so two spellings of one file (relative, absolute, symlink) share the lock.
  let key = path.resolve(filename);
  try {
    key = fs.realpathSync(key);
  } catch {
    // Not created yet: the resolved path is the best key there is.
  }
  let entry = fileLocks.get(key);
  if (!entry) {
    entry = { mutex: new Mutex(), users: 0 };
    fileLocks.set(key, entry);
  }
  entry.users += 1;
  const held = entry;
  return {
    mutex: held.mutex,
    release() {
      held.users -= 1;
      if (held.users === 0) fileLocks.delete(key);
    },
  };
}

function isBusy(error: unknown): boolean {
  if (typeof error !== "object" || error === null || !("code" in error)) return false;
  const code = (error as { code: unknown }).code;
  return code === "SQLITE_BUSY" || (typeof code === "string" && code.startsWith("SQLITE_BUSY_"));
}

/**
 * Runs `attempt` until it does not fail with SQLITE_BUSY, waiting with timers in between, for
 * up to BUSY_WAIT_MS; then the last error is thrown. `attempt` must be safe to run again after
 * a busy failure and must hold no lock while this waits.
 */
export async function retryWhileBusy<T>(attempt: () => T | Promise<T>): Promise<T> {
  const deadline = Date.now() + BUSY_WAIT_MS;
  for (let tries = 0; ; tries += 1) {
    try {
      return await attempt();
    } catch (error) {
      const delay = BUSY_DELAYS_MS[Math.min(tries, BUSY_DELAYS_MS.length - 1)] ?? 50;
      if (!isBusy(error) || Date.now() + delay > deadline) throw error;
      await sleep(delay);
    }
  }
}

export class SqliteFile {
  readonly database: Database.Database;
  readonly #lock: { mutex: Mutex; release(): void };
  #closed = false;

  constructor(database: Database.Database) {
    this.database = database;
    this.#lock = lockFor(database.name);
  }

  /** Applies the tracking store's pragmas to a freshly opened file. */
  static configure(database: Database.Database, inMemory: boolean): void {
    // A generous timeout first, so that switching a fresh file to WAL waits for a concurrent
    // opener; then 0 for good (see the top of this file).
    database.pragma(`busy_timeout = ${OPEN_BUSY_TIMEOUT_MS}`);
    if (!inMemory) database.pragma("journal_mode = WAL");
    // NORMAL in WAL mode may lose the last transactions on power loss, never corrupts: the right
    // trade for observability data, and far fewer fsyncs than FULL.
    database.pragma("synchronous = NORMAL");
    database.pragma("busy_timeout = 0");
  }

  /** Exclusive use of the file within this process; call the returned function to release it. */
  acquire(): Promise<() => void> {
    return this.#lock.mutex.acquire();
  }

  /**
   * Runs `work` synchronously inside one BEGIN IMMEDIATE transaction, holding the file lock.
   * Fails at once with SQLITE_BUSY, having written nothing, while another process holds the
   * write lock: the caller retries (`retryWhileBusy`).
   */
  async transaction(work: (database: Database.Database) => void): Promise<void> {
    const db = this.database;
    const release = await this.acquire();
    try {
      db.exec("begin immediate");
      try {
        work(db);
        db.exec("commit");
      } catch (error) {
        if (db.inTransaction) db.exec("rollback");
        throw error;
      }
    } finally {
      release();
    }
  }

  /** Closes the handle once; the lock entry goes when the file's last user in this process closes. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.database.close();
    this.#lock.release();
  }
}
