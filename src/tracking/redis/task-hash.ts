import { statusRank, type TaskStatus } from "../../core/status.js";
import type { TaskValues } from "../records/schema.js";

// The task hash: one Redis hash per task holding the same columns as the SQL store's `tasks` row
// (records/schema.ts, TaskValues), under two-letter field names: a field name is stored in every
// hash, and at 100k+ tasks "function_key" instead of "fk" costs megabytes. A NULL column is an
// absent field; so are `r` and `a` when 0. `id` lives in the key and `status_rank` is derived
// from the status, so neither is stored. One field is not a column: `fl`, the function key
// lowercased in JS (Unicode-aware, unlike Lua's string.lower) for the text search, stored only
// when it differs from `fk`. (Layout 2 also had `ag`, the age its retention entry was set for.)
//
// The merge script (record-script.ts) receives each row sparsely (row-encoding.ts) and groups
// the fields the way sql/merge.ts does; both lists come from here.

export type Column = Exclude<keyof TaskValues, "id" | "status_rank">;

/** Column → hash field. Typed as a record so every column is mapped exactly once. */
export const FIELD_OF: Record<Column, string> = {
  function_key: "fk",
  queue: "q",
  priority: "pr",
  payload: "p",
  max_retries: "mr",
  timeout_ms: "to",
  metadata: "md",
  idempotency_key: "ik",
  created_at: "ca",
  sort_at: "sa",
  status: "st",
  run: "r",
  attempt: "a",
  started_at: "sd",
  completed_at: "cd",
  duration_ms: "du",
  run_at: "ra",
  result: "re",
  worker_id: "w",
  delivery_count: "dc",
  dead_letter_reason: "dl",
  error: "e",
  error_search: "es",
  updated_at: "ua",
};

/** The field holding the lowercased function key (search only; not a column). */
export const LOWER_KEY_FIELD = "fl";

// The merge groups of sql/merge.ts, as hash fields. `fl` travels with `fk`: the merge takes it
// exactly when it takes `fk` (first non-null wins), so both come from the same event.
export const DESCRIPTIVE_FIELDS = [
  "fk",
  LOWER_KEY_FIELD,
  "q",
  "pr",
  "p",
  "mr",
  "to",
  "md",
  "ik",
  "ca",
] as const;
export const VERSION_FIELDS = ["st", "r", "a"] as const;
export const ATTEMPT_FIELDS = ["sd", "cd", "du", "ra", "re", "w", "dc", "dl"] as const;
export const CARRIED_FIELDS = ["e", "es"] as const;

/** Every stored field, in the order of the ARGV values of one row (after its id). */
export const FIELDS = [
  ...DESCRIPTIVE_FIELDS,
  ...VERSION_FIELDS,
  ...ATTEMPT_FIELDS,
  ...CARRIED_FIELDS,
  "sa",
  "ua",
] as const;

/** ARGV stand-in for "no value" in the list script's filters (text never holds NUL, rows.ts). */
export const NULL_ARG = "\u0000";

/** Digits of the zero-padded sort_at, so index members order by time as plain strings. */
export const SORT_DIGITS = 13;
const SORT_MAX = 10 ** SORT_DIGITS - 1;

/** sort_at as stored: fixed width, clamped to what 13 digits hold (epoch ms until the year 2286). */
export function paddedSortAt(ms: number): string {
  const clamped = Math.min(Math.max(Math.trunc(ms), 0), SORT_MAX);
  return String(clamped).padStart(SORT_DIGITS, "0");
}

/** The one-letter code of each field in a row's field list: "A" = FIELDS[0], "B" = FIELDS[1]… */
export const FIELD_CODE_BASE = 64;

/** Separates the values of the record script's rows argument (no stored text holds a NUL). */
export const VALUE_SEPARATOR = "\u0000";

const NUMERIC = new Set<Column>([
  "priority",
  "max_retries",
  "timeout_ms",
  "created_at",
  "sort_at",
  "run",
  "attempt",
  "started_at",
  "completed_at",
  "duration_ms",
  "run_at",
  "delivery_count",
  "updated_at",
]);

/** A stored hash (field → value) back into the SQL row shape that rows.ts turns into a record. */
export function hashToValues(id: string, hash: Record<string, string>): TaskValues {
  const row: Record<string, string | number | null> = { id };
  for (const [column, field] of Object.entries(FIELD_OF) as [Column, string][]) {
    const raw = hash[field];
    row[column] = raw === undefined ? null : NUMERIC.has(column) ? Number(raw) : raw;
  }
  row.run ??= 0;
  row.attempt ??= 0;
  row.sort_at ??= 0;
  row.updated_at ??= 0;
  row.status ??= "PENDING";
  row.status_rank = statusRank(row.status as TaskStatus);
  return row as unknown as TaskValues;
}

/** A flat [field, value, field, value…] reply (HGETALL inside a script) as an object. */
export function pairsToHash(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) out[pairs[i] as string] = pairs[i + 1] as string;
  return out;
}

/** The retention age of a stored task: its latest event, or its due time when that is later. */
export function taskAge(row: TaskValues): number {
  return Math.max(row.updated_at, row.run_at ?? Number.NEGATIVE_INFINITY);
}
