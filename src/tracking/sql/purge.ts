import type { Kysely } from "kysely";
import type { TrackingDatabase } from "../records/schema.js";
import { timeBound } from "../task-query.js";
import type { PurgeResult } from "../tracking-store.js";

// Retention. Deletes run in chunks of a few thousand rows, each its own short statement: a
// single DELETE of a million rows would hold SQLite's write lock for seconds, and every other
// process writing tracking data would wait (blocked, with better-sqlite3) for that long.

const CHUNK = 5_000;

async function untilExhausted(deleteChunk: () => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await deleteChunk();
    total += deleted;
    if (deleted < CHUNK) return total;
  }
}

export async function purgeOlderThan(
  db: Kysely<TrackingDatabase>,
  cutOff: number,
): Promise<PurgeResult> {
  const olderThan = timeBound("olderThan", cutOff);
  const tasks = await untilExhausted(async () => {
    const result = await db
      .deleteFrom("tasks")
      .where("id", "in", (eb) =>
        eb
          .selectFrom("tasks")
          .select("id")
          .where("updated_at", "<", olderThan)
          // A task delayed past the cut-off (run_at still ahead) is not history yet: keep it.
          .where((w) => w.or([w("run_at", "is", null), w("run_at", "<", olderThan)]))
          .limit(CHUNK),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  });
  const logs = await untilExhausted(async () => {
    const result = await db
      .deleteFrom("task_logs")
      .where("seq", "in", (eb) =>
        eb.selectFrom("task_logs").select("seq").where("at", "<", olderThan).limit(CHUNK),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  });
  const result = await db.deleteFrom("workers").where("seen_at", "<", olderThan).executeTakeFirst();
  return { tasks, logs, workers: Number(result.numDeletedRows) };
}
