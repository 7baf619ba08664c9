import type { RowLimits } from "../../src/tracking/redis/row-encoding.js";
import { pushRowArgs, VALUE_SEPARATOR } from "../../src/tracking/redis/task-hash.js";
import { collapseEvents } from "../../src/tracking/sql/record.js";
import type { TaskEvent } from "../../src/tracking/tracking-store.js";

// The record script's rows arguments as RedisTrackingStore.record() built them before
// row-encoding.ts: the batch collapsed to one TaskValues per task with the SQL store's JS merge
// (sql/record.ts collapseEvents, in arrival order), each row through pushRowArgs, joined. Slow
// but plainly right, since it is the SQL store's own code: row-encoding.test.ts holds the fast
// encoder to its exact output, and bench/redis-row-encoding.ts measures both.

export function referenceRows(events: readonly TaskEvent[], limits: RowLimits): string[] {
  const calls: string[] = [];
  let values: string[] = [];
  let rows = 0;
  let length = 0;
  const send = () => {
    calls.push(values.join(VALUE_SEPARATOR));
    values = [];
    rows = 0;
    length = 0;
  };
  for (const row of collapseEvents(events, { sorted: false })) {
    const start = values.length;
    pushRowArgs(row, values);
    for (let i = start; i < values.length; i += 1) length += (values[i] as string).length + 1;
    rows += 1;
    if (rows >= limits.rowsPerCall || length >= limits.charsPerCall) send();
  }
  if (rows > 0) send();
  return calls;
}
