import path from "node:path";
import type { Kysely } from "kysely";
import { UnavailableError } from "../../core/errors.js";
import type { SqlKind, TrackingDatabase } from "../records/schema.js";
import type {
  PurgeResult,
  TaskEvent,
  TaskLogLine,
  TaskPage,
  TaskQuery,
  TaskRecord,
  TaskUpdatesQuery,
  ThroughputBucket,
  ThroughputQuery,
  TrackingStore,
  WorkerHeartbeat,
} from "../tracking-store.js";
import { connectSql, parseTrackingUrl, type SqlConnection } from "./connect.js";
import { toTrackingError } from "./errors.js";
import { migrateTrackingSchema } from "./migrate.js";
import { purgeOlderThan } from "./purge.js";
import {
  countThroughput,
  getTask,
  listTasks,
  listUpdates,
  listWorkers,
  taskLogs,
} from "./queries.js";
import { appendLogLines, recordEvents, upsertHeartbeats } from "./record.js";
import { retryWhileBusy, type SqliteFile } from "./sqlite-file.js";
import { SqliteWriteThread } from "./sqlite-write-thread.js";
import { SqliteWrites } from "./sqlite-writes.js";

// The TrackingStore over SQLite or PostgreSQL: one implementation, the engine differences kept in
// connect.ts (connections), sqlite-file.ts and sqlite-dialect.ts (locking, waiting for other
// processes), sqlite-writes.ts (events and log lines through statements prepared once; the merge
// SQL is the same, from merge.ts), sqlite-write-thread.ts (those writes run on a worker thread
// for a database file, off the event loop) and the first migration (one column type). Every
// method translates driver errors once, at this boundary.

interface SqliteEventWrites {
  recordEvents(events: readonly TaskEvent[]): Promise<void>;
  appendLogLines(lines: readonly TaskLogLine[]): Promise<void>;
  close?(): Promise<void>;
}

export class SqlTrackingStore implements TrackingStore {
  readonly kind: SqlKind;
  readonly #db: Kysely<TrackingDatabase>;
  readonly #file: SqliteFile | undefined;
  readonly #sqliteWrites: SqliteEventWrites | undefined;
  readonly #schema: string | undefined;
  #closed: Promise<void> | undefined;

  constructor(
    connection: SqlConnection,
    options: { kind: SqlKind; schema?: string; writeThread?: boolean },
  ) {
    this.#db = connection.db;
    this.#file = connection.file;
    this.#sqliteWrites = sqliteWritesFor(connection.file, options.writeThread ?? false);
    this.kind = options.kind;
    this.#schema = options.schema;
  }

  async #guard<T>(operation: string, work: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new UnavailableError(`tracking store (${this.kind}) is closed`);
    try {
      return await work();
    } catch (error) {
      throw toTrackingError(this.kind, operation, error);
    }
  }

  /**
   * A Kysely operation. SQLite: another process's write lock is waited for here, with timers,
   * by running the operation again (each is idempotent; sqlite-file.ts says why).
   */
  #run<T>(operation: string, work: (db: Kysely<TrackingDatabase>) => Promise<T>): Promise<T> {
    const db = this.#db;
    return this.#guard(operation, () => (this.#file ? retryWhileBusy(() => work(db)) : work(db)));
  }

  migrate(): Promise<void> {
    return this.#run("migrate", (db) => migrateTrackingSchema(db, this.kind, this.#schema));
  }

  record(events: readonly TaskEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    const sqlite = this.#sqliteWrites;
    if (sqlite) return this.#guard("record", () => sqlite.recordEvents(events));
    return this.#run("record", (db) => recordEvents(db, events));
  }

  appendLogs(lines: readonly TaskLogLine[]): Promise<void> {
    if (lines.length === 0) return Promise.resolve();
    const sqlite = this.#sqliteWrites;
    if (sqlite) return this.#guard("appendLogs", () => sqlite.appendLogLines(lines));
    return this.#run("appendLogs", (db) => appendLogLines(db, lines));
  }

  heartbeat(workers: readonly WorkerHeartbeat[]): Promise<void> {
    if (workers.length === 0) return Promise.resolve();
    return this.#run("heartbeat", (db) => upsertHeartbeats(db, workers));
  }

  get(taskId: string): Promise<TaskRecord | undefined> {
    return this.#run("get", (db) => getTask(db, taskId));
  }

  list(query: TaskQuery): Promise<TaskPage> {
    return this.#run("list", (db) => listTasks(db, query));
  }

  logs(taskId: string, options?: { limit?: number }): Promise<TaskLogLine[]> {
    return this.#run("logs", (db) => taskLogs(db, taskId, options));
  }

  updates(query: TaskUpdatesQuery): Promise<TaskRecord[]> {
    return this.#run("updates", (db) => listUpdates(db, query));
  }

  throughput(query: ThroughputQuery): Promise<ThroughputBucket[]> {
    return this.#run("throughput", (db) => countThroughput(db, query));
  }

  workers(options: { seenSince: number }): Promise<WorkerHeartbeat[]> {
    return this.#run("workers", (db) => listWorkers(db, options.seenSince));
  }

  purge(options: { olderThan: number }): Promise<PurgeResult> {
    return this.#run("purge", (db) => purgeOlderThan(db, options.olderThan));
  }

  /** Idempotent; waits for the queries in flight, then releases the connections. */
  close(): Promise<void> {
    // Kysely destroys only a driver it initialised; the SQLite file is closed either way.
    // The write thread first: it commits what it was sent before the file closes.
    this.#closed ??= Promise.resolve(this.#sqliteWrites?.close?.())
      .catch(() => undefined)
      .then(() => this.#db.destroy())
      .finally(() => this.#file?.close());
    return this.#closed;
  }
}

/**
 * A file's writes go to a thread when asked (`?write_thread=on`, or the opener's default); a
 * memory database exists only on this thread's connection.
 */
function sqliteWritesFor(
  file: SqliteFile | undefined,
  writeThread: boolean,
): SqliteEventWrites | undefined {
  if (!file) return undefined;
  const name = file.database.name;
  if (name === ":memory:" || name === "" || !writeThread) return new SqliteWrites(file);
  return new SqliteWriteThread(path.resolve(name));
}

/**
 * Opens the SQLite or PostgreSQL tracking store named by `url`:
 * `sqlite://relative/path.db`, `sqlite:///absolute/path.db` (`?write_thread=on|off` overrides
 * `options.writeThread`, default off: see sqlite-write-thread.ts for when a thread pays),
 * `sqlite::memory:` or
 * `postgres://…` / `postgresql://…`. For PostgreSQL, `options.schema` (or `?schema=` in the URL)
 * names the schema holding the tables (default `public`); `migrate()` creates it when missing.
 * Connections are lazy, so this succeeds while the server is down; call `migrate()` before the
 * first read or write.
 */
export async function openSqlTrackingStore(
  url: string,
  options: { schema?: string; writeThread?: boolean } = {},
): Promise<TrackingStore> {
  const target = parseTrackingUrl(url, options);
  try {
    const connection = await connectSql(target);
    return new SqlTrackingStore(connection, {
      kind: target.kind,
      ...(target.kind === "postgres"
        ? { schema: target.schema }
        : { writeThread: target.writeThread ?? options.writeThread ?? false }),
    });
  } catch (error) {
    throw toTrackingError(target.kind, "open", error);
  }
}

/** The URL schemes `open` understands (backends/open.ts routes them here). */
export const SCHEMES: readonly string[] = ["sqlite:", "postgres:", "postgresql:"];

/**
 * Opens the store a URL names (see `openSqlTrackingStore`) and migrates it, ready for use.
 * `sqliteWriteThread` is the default of a SQLite file's `?write_thread=`.
 */
export async function open(
  url: string,
  options: { sqliteWriteThread?: boolean } = {},
): Promise<TrackingStore> {
  const store = await openSqlTrackingStore(url, {
    writeThread: options.sqliteWriteThread ?? false,
  });
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}
