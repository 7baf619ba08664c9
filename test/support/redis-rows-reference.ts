import type { TaskValues } from "../../src/tracking/records/schema.js";
import type { RowLimits } from "../../src/tracking/redis/row-encoding.js";
import {
  type Column,
  FIELD_CODE_BASE,
  FIELD_OF,
  FIELDS,
  LOWER_KEY_FIELD,
  paddedSortAt,
  VALUE_SEPARATOR,
} from "../../src/tracking/redis/task-hash.js";
import { collapseEvents } from "../../src/tracking/sql/record.js";
import type { TaskEvent } from "../../src/tracking/tracking-store.js";

// The record script's rows arguments as RedisTrackingStore.record() built them before
// row-encoding.ts: the batch collapsed to one TaskValues per task with the SQL store's JS merge
// (sql/record.ts collapseEvents, in arrival order), each row through pushRowArgs, joined. Slow
// but plainly right, since it is the SQL store's own code: row-encoding.test.ts holds the fast
// encoder to its exact output, and bench/redis-row-encoding.ts measures both.

const COLUMN_OF = Object.fromEntries(
  Object.entries(FIELD_OF).map(([column, field]) => [field, column]),
) as Record<string, Column>;

function columnValue(row: TaskValues, column: Column): string | null {
  const value = row[column];
  if (value === null) return null;
  if (column === "sort_at") return paddedSortAt(value as number);
  return String(value);
}

/**
 * One row's values, appended to `out`: the id, the codes of the fields present (one letter each,
 * FIELD_CODE_BASE + position in FIELDS + 1), then those fields' values. Absent means NULL, except
 * `r` and `a` (absent = 0) and `fl` (absent = same as `fk`).
 */
function pushRowArgs(row: TaskValues, out: string[]): void {
  let codes = "";
  const values: string[] = [];
  for (let i = 0; i < FIELDS.length; i += 1) {
    const field = FIELDS[i] as (typeof FIELDS)[number];
    let value: string | null;
    if (field === LOWER_KEY_FIELD) {
      const key = row.function_key;
      value = key === null ? null : key.toLowerCase();
      if (value === key) value = null;
    } else {
      value = columnValue(row, COLUMN_OF[field] as Column);
      if ((field === "r" || field === "a") && value === "0") value = null;
    }
    if (value === null) continue;
    codes += String.fromCharCode(FIELD_CODE_BASE + i + 1);
    values.push(value);
  }
  out.push(row.id, codes);
  for (const value of values) out.push(value);
}

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
