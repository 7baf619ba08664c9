import { CompiledQuery, type Kysely } from "kysely";
import { dbText, eventToValues, heartbeatToRow, logLineToRow } from "../records/rows.js";
import type { TaskValues, TrackingDatabase, WorkersTable } from "../records/schema.js";
import type { TaskEvent, TaskLogLine, WorkerHeartbeat } from "../tracking-store.js";
import { mergeTaskValues, TASK_COLUMNS, upsertTasksSql } from "./merge.js";

// The write side through Kysely: what PostgreSQL runs for events and log lines, and both engines
// for heartbeats (a few per worker and minute). SQLite writes events and log lines with
// statements prepared once instead (sqlite-writes.ts); both paths collapse a batch here first.
//
// Events: the batch is first collapsed to one row per task with the same merge the database
// applies (merge.ts), then written with multi-row upserts (merge.ts, upsertTasksSql), several per
// transaction. Their SQL text is built once per chunk size and sent as is: compiling a 500-row
// statement through Kysely's query builder on every flush cost more than running it. Rows are
// sorted by id so that concurrent PostgreSQL transactions lock shared rows in the same order and
// cannot deadlock each other.

/** Rows per statement: 26 parameters each stays well under pg's 65,535. */
const TASK_CHUNK = 500;
const LOG_CHUNK = 2_000;

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

/**
 * One row per task, merged in arrival order; sorted by id unless `sorted: false`. A descriptive
 * JSON field (payload, metadata) that an earlier event of the batch already carries is not
 * encoded again: the merge keeps the first one anyway.
 */
export function collapseEvents(
  events: readonly TaskEvent[],
  options: { sorted?: boolean } = {},
): TaskValues[] {
  const byId = new Map<string, TaskValues>();
  for (const event of events) {
    const id = dbText(event.taskId);
    const earlier = byId.get(id);
    const values = eventToValues(event, earlier);
    byId.set(id, earlier ? mergeTaskValues(earlier, values) : values);
  }
  const rows = [...byId.values()];
  if (options.sorted === false) return rows;
  return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** `$1, $2, …` numbered row by row; the text of a full chunk is built once and kept. */
const pgPlaceholder = (row: number, index: number) => `$${row * TASK_COLUMNS.length + index + 1}`;
let fullChunkSql: string | undefined;

function upsertSqlFor(rows: number): string {
  if (rows !== TASK_CHUNK) return upsertTasksSql(rows, pgPlaceholder);
  fullChunkSql ??= upsertTasksSql(TASK_CHUNK, pgPlaceholder);
  return fullChunkSql;
}

function upsertTasks(db: Kysely<TrackingDatabase>, rows: readonly TaskValues[]): Promise<unknown> {
  const text = upsertSqlFor(rows.length);
  const parameters: unknown[] = [];
  for (const row of rows) for (const column of TASK_COLUMNS) parameters.push(row[column]);
  return db.executeQuery(CompiledQuery.raw(text, parameters));
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
