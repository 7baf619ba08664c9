import type { Kysely } from "kysely";
import { UnavailableError } from "../../core/errors.js";
import type {
  PurgeResult,
  TaskEvent,
  TaskLogLine,
  TaskPage,
  TaskQuery,
  TaskRecord,
  TrackingStore,
  WorkerHeartbeat,
} from "../tracking-store.js";
import { connectSql, parseTrackingUrl } from "./connect.js";
import { toTrackingError } from "./errors.js";
import { migrateTrackingSchema } from "./migrate.js";
import { purgeOlderThan } from "./purge.js";
import { getTask, listTasks, listWorkers, taskLogs } from "./queries.js";
import { appendLogLines, recordEvents, upsertHeartbeats } from "./record.js";
import type { SqlKind, TrackingDatabase } from "./schema.js";

// The TrackingStore over SQLite or PostgreSQL: one implementation, the engine differences kept in
// open-sql-tracking-store.ts (connections), sqlite-dialect.ts (locking) and the first migration
// (one column type). Every method translates driver errors once, at this boundary.

export class SqlTrackingStore implements TrackingStore {
  readonly kind: SqlKind;
  readonly #db: Kysely<TrackingDatabase>;
  readonly #schema: string | undefined;
  #closed: Promise<void> | undefined;

  constructor(db: Kysely<TrackingDatabase>, options: { kind: SqlKind; schema?: string }) {
    this.#db = db;
    this.kind = options.kind;
    this.#schema = options.schema;
  }

  async #run<T>(operation: string, work: (db: Kysely<TrackingDatabase>) => Promise<T>): Promise<T> {
    if (this.#closed) throw new UnavailableError(`tracking store (${this.kind}) is closed`);
    try {
      return await work(this.#db);
    } catch (error) {
      throw toTrackingError(this.kind, operation, error);
    }
  }

  migrate(): Promise<void> {
    return this.#run("migrate", (db) => migrateTrackingSchema(db, this.kind, this.#schema));
  }

  record(events: readonly TaskEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return this.#run("record", (db) => recordEvents(db, events));
  }

  appendLogs(lines: readonly TaskLogLine[]): Promise<void> {
    if (lines.length === 0) return Promise.resolve();
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

  workers(options: { seenSince: number }): Promise<WorkerHeartbeat[]> {
    return this.#run("workers", (db) => listWorkers(db, options.seenSince));
  }

  purge(options: { olderThan: number }): Promise<PurgeResult> {
    return this.#run("purge", (db) => purgeOlderThan(db, options.olderThan));
  }

  /** Idempotent; waits for the queries in flight, then releases the connections. */
  close(): Promise<void> {
    this.#closed ??= this.#db.destroy();
    return this.#closed;
  }
}

/**
 * Opens the SQLite or PostgreSQL tracking store named by `url`:
 * `sqlite://relative/path.db`, `sqlite:///absolute/path.db`, `sqlite::memory:` or
 * `postgres://…` / `postgresql://…`. For PostgreSQL, `options.schema` (or `?schema=` in the URL)
 * names the schema holding the tables (default `public`); `migrate()` creates it when missing.
 * Connections are lazy, so this succeeds while the server is down; call `migrate()` before the
 * first read or write.
 */
export async function openSqlTrackingStore(
  url: string,
  options: { schema?: string } = {},
): Promise<TrackingStore> {
  const target = parseTrackingUrl(url, options);
  try {
    const db = connectSql(target);
    return new SqlTrackingStore(db, {
      kind: target.kind,
      ...(target.kind === "postgres" ? { schema: target.schema } : {}),
    });
  } catch (error) {
    throw toTrackingError(target.kind, "open", error);
  }
}
