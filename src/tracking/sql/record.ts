import { type Kysely, sql } from "kysely";
import type { TaskEvent, TaskLogLine, WorkerHeartbeat } from "../tracking-store.js";
import { mergeAssignments, mergeTaskValues } from "./merge.js";
import { eventToValues, heartbeatToRow, logLineToRow } from "./rows.js";
import type { TaskValues, TrackingDatabase, WorkersTable } from "./schema.js";

// The write side: events, log lines and heartbeats, each call one transaction.
//
// Events: the batch is first collapsed to one row per task with the same merge the database
// applies (merge.ts), then written with multi-row upserts of this shape:
//
//   insert into tasks (<every column>) values (...), (...), ...
//   on conflict (id) do update set <column> = <merge of tasks.column and excluded.column>, ...
//
// One statement per chunk merges each row with whatever is stored at that instant, atomically,
// so writers in several processes (API, workers) converge without reading first. Rows are sorted
// by id so that concurrent PostgreSQL transactions lock shared rows in the same order and cannot
// deadlock each other.

/** Rows per statement: 26 parameters each stays well under SQLite's 32,766 and pg's 65,535. */
const TASK_CHUNK = 500;
const LOG_CHUNK = 2_000;

// Typed as a record so the compiler insists every stored column is listed exactly once.
const TASK_COLUMN_SET: Record<keyof TaskValues, true> = {
  id: true,
  function_key: true,
  queue: true,
  priority: true,
  payload: true,
  max_retries: true,
  timeout_ms: true,
  metadata: true,
  idempotency_key: true,
  created_at: true,
  sort_at: true,
  status: true,
  status_rank: true,
  run: true,
  attempt: true,
  started_at: true,
  completed_at: true,
  duration_ms: true,
  run_at: true,
  result: true,
  worker_id: true,
  delivery_count: true,
  dead_letter_reason: true,
  error: true,
  error_search: true,
  updated_at: true,
};
const TASK_COLUMNS = Object.keys(TASK_COLUMN_SET) as (keyof TaskValues)[];
const MERGE = sql.join(mergeAssignments());

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** One transaction for several statements; a single statement is atomic on its own. */
async function inTransaction<T>(
  db: Kysely<TrackingDatabase>,
  parts: readonly T[],
  write: (db: Kysely<TrackingDatabase>, part: T) => Promise<unknown>,
): Promise<void> {
  if (parts.length === 0) return;
  if (parts.length === 1) {
    await write(db, parts[0] as T);
    return;
  }
  await db.transaction().execute(async (trx) => {
    for (const part of parts) await write(trx, part);
  });
}

/** One row per task, merged in arrival order, sorted by id. */
export function collapseEvents(events: readonly TaskEvent[]): TaskValues[] {
  const byId = new Map<string, TaskValues>();
  for (const event of events) {
    const values = eventToValues(event);
    const earlier = byId.get(values.id);
    byId.set(values.id, earlier ? mergeTaskValues(earlier, values) : values);
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function upsertTasks(db: Kysely<TrackingDatabase>, rows: readonly TaskValues[]): Promise<unknown> {
  const columns = sql.join(TASK_COLUMNS.map((c) => sql.ref(c)));
  const values = sql.join(rows.map((row) => sql`(${sql.join(TASK_COLUMNS.map((c) => row[c]))})`));
  return sql`insert into tasks (${columns}) values ${values} on conflict (id) do update set ${MERGE}`.execute(
    db,
  );
}

export async function recordEvents(
  db: Kysely<TrackingDatabase>,
  events: readonly TaskEvent[],
): Promise<void> {
  await inTransaction(db, chunks(collapseEvents(events), TASK_CHUNK), upsertTasks);
}

export async function appendLogLines(
  db: Kysely<TrackingDatabase>,
  lines: readonly TaskLogLine[],
): Promise<void> {
  const rows = lines.map(logLineToRow);
  await inTransaction(db, chunks(rows, LOG_CHUNK), (trx, part) =>
    trx.insertInto("task_logs").values(part).execute(),
  );
}

export async function upsertHeartbeats(
  db: Kysely<TrackingDatabase>,
  heartbeats: readonly WorkerHeartbeat[],
): Promise<void> {
  const latest = new Map<string, WorkersTable>();
  for (const hb of heartbeats) {
    const row = heartbeatToRow(hb);
    const seen = latest.get(row.worker_id);
    if (!seen || row.seen_at >= seen.seen_at) latest.set(row.worker_id, row);
  }
  const rows = [...latest.values()].sort((a, b) => (a.worker_id < b.worker_id ? -1 : 1));
  if (rows.length === 0) return;
  await db
    .insertInto("workers")
    .values(rows)
    .onConflict((oc) =>
      oc
        .column("worker_id")
        .doUpdateSet((eb) => ({
          host: eb.ref("excluded.host"),
          pid: eb.ref("excluded.pid"),
          queues: eb.ref("excluded.queues"),
          concurrency: eb.ref("excluded.concurrency"),
          running: eb.ref("excluded.running"),
          functions: eb.ref("excluded.functions"),
          version: eb.ref("excluded.version"),
          started_at: eb.ref("excluded.started_at"),
          seen_at: eb.ref("excluded.seen_at"),
          stopped_at: eb.ref("excluded.stopped_at"),
        }))
        // A heartbeat delayed in some writer's buffer must not roll a worker back in time.
        .where((eb) => eb("excluded.seen_at", ">=", eb.ref("workers.seen_at"))),
    )
    .execute();
}
