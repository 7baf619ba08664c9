import { type Kysely, sql } from "kysely";
import {
  dbText,
  decodeCursor,
  encodeCursor,
  rowToHeartbeat,
  rowToLogLine,
  rowToRecord,
} from "../records/rows.js";
import type { TrackingDatabase } from "../records/schema.js";
import { bucketWidth, listLimit, logLimit, metadataNeedle, timeBound } from "../task-query.js";
import type {
  TaskLogLine,
  TaskPage,
  TaskQuery,
  TaskRecord,
  TaskUpdatesQuery,
  ThroughputBucket,
  ThroughputQuery,
  WorkerHeartbeat,
} from "../tracking-store.js";

// The read side. Lists are newest first by (sort_at, id): sort_at is the creation time (or the
// first event time when that is unknown) and the UUIDv7 id breaks ties, so the order is total and
// a cursor (the last row's key) resumes exactly after it: no skipped or repeated rows, whatever
// was inserted since the first page.

/** `%` and `_` are wildcards in LIKE; the user searches for them literally. */
function likeContains(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export async function getTask(
  db: Kysely<TrackingDatabase>,
  taskId: string,
): Promise<TaskRecord | undefined> {
  const row = await db
    .selectFrom("tasks")
    .selectAll()
    .where("id", "=", dbText(taskId))
    .executeTakeFirst();
  return row ? rowToRecord(row) : undefined;
}

export async function listTasks(db: Kysely<TrackingDatabase>, query: TaskQuery): Promise<TaskPage> {
  const limit = listLimit(query.limit);
  const after = query.cursor ? decodeCursor(query.cursor) : undefined;
  let select = db.selectFrom("tasks").selectAll();
  if (query.status && query.status.length > 0) {
    select = select.where("status", "in", query.status);
  }
  if (query.functionKey !== undefined) {
    select = select.where("function_key", "=", dbText(query.functionKey));
  }
  if (query.queue !== undefined) {
    select = select.where("queue", "=", dbText(query.queue));
  }
  if (query.text) {
    const pattern = likeContains(dbText(query.text));
    select = select.where(sql<boolean>`search_text like ${pattern} escape '\\'`);
  }
  // LIKE narrows the rows in SQL (ASCII case-insensitive on SQLite); the exact, case-sensitive
  // test is the substring check below. A page may then hold fewer rows than the limit.
  const needle = query.metadata ? dbText(metadataNeedle(query.metadata)) : undefined;
  if (needle !== undefined) {
    const pattern = `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    select = select.where(sql<boolean>`metadata like ${pattern} escape '\\'`);
  }
  if (query.since !== undefined) {
    select = select.where("sort_at", ">=", timeBound("since", query.since));
  }
  if (query.until !== undefined) {
    select = select.where("sort_at", "<", timeBound("until", query.until));
  }
  // A row value comparison: both engines turn it into a range on the (…, sort_at, id) indexes.
  if (after) select = select.where(sql<boolean>`(sort_at, id) < (${after.sortAt}, ${after.id})`);
  const rows = await select
    .orderBy("sort_at", "desc")
    .orderBy("id", "desc")
    .limit(limit + 1)
    .execute();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  const exact = needle === undefined ? page : page.filter((r) => r.metadata?.includes(needle));
  return {
    tasks: exact.map(rowToRecord),
    ...(rows.length > limit && last
      ? { nextCursor: encodeCursor({ sortAt: last.sort_at, id: last.id }) }
      : {}),
  };
}

/** Records by their latest event time, oldest first; the range scan uses tasks_updated_idx. */
export async function listUpdates(
  db: Kysely<TrackingDatabase>,
  query: TaskUpdatesQuery,
): Promise<TaskRecord[]> {
  const limit = listLimit(query.limit);
  const since = timeBound("updatedSince", query.updatedSince);
  let select = db.selectFrom("tasks").selectAll();
  if (query.after) {
    const afterAt = timeBound("after.updatedAt", query.after.updatedAt);
    select = select
      .where("updated_at", ">=", Math.max(since, afterAt))
      .where(sql<boolean>`(updated_at, id) > (${afterAt}, ${dbText(query.after.id)})`);
  } else {
    select = select.where("updated_at", ">=", since);
  }
  const rows = await select
    .orderBy("updated_at", "asc")
    .orderBy("id", "asc")
    .limit(limit)
    .execute();
  return rows.map(rowToRecord);
}

/**
 * Finished tasks per queue and bucket. `updated_at >= since` is implied by the completion filter
 * (the completing event's time is at most the latest event time) and lets the engine range-scan
 * tasks_updated_idx instead of reading the whole table.
 */
export async function countThroughput(
  db: Kysely<TrackingDatabase>,
  query: ThroughputQuery,
): Promise<ThroughputBucket[]> {
  const width = bucketWidth(query.bucketMs);
  const since = timeBound("since", query.since);
  const rows = await db
    .selectFrom("tasks")
    .select([
      "queue",
      sql<number>`completed_at - (completed_at % ${width})`.as("start"),
      sql<number>`cast(sum(case when status = 'SUCCESS' then 1 else 0 end) as integer)`.as(
        "succeeded",
      ),
      sql<number>`cast(sum(case when status = 'FAILURE' then 1 else 0 end) as integer)`.as(
        "failed",
      ),
    ])
    .where("updated_at", ">=", since)
    .where("completed_at", ">=", since)
    .where("status", "in", ["SUCCESS", "FAILURE"])
    .where("queue", "is not", null)
    .groupBy(sql`1, 2`)
    .execute();
  return rows.map((r) => ({
    queue: r.queue as string,
    start: Number(r.start),
    succeeded: Number(r.succeeded),
    failed: Number(r.failed),
  }));
}

/** The most recent `limit` lines of the task, oldest first. */
export async function taskLogs(
  db: Kysely<TrackingDatabase>,
  taskId: string,
  options: { limit?: number } = {},
): Promise<TaskLogLine[]> {
  const rows = await db
    .selectFrom("task_logs")
    .select(["task_id", "attempt", "at", "level", "message"])
    .where("task_id", "=", dbText(taskId))
    .orderBy("at", "desc")
    .orderBy("seq", "desc")
    .limit(logLimit(options.limit))
    .execute();
  return rows.reverse().map(rowToLogLine);
}

export async function listWorkers(
  db: Kysely<TrackingDatabase>,
  seenSince: number,
): Promise<WorkerHeartbeat[]> {
  const rows = await db
    .selectFrom("workers")
    .selectAll()
    .where("seen_at", ">=", timeBound("seenSince", seenSince))
    .orderBy("worker_id")
    .execute();
  return rows.map(rowToHeartbeat);
}
