import { statusRank, supersedes, type TaskStatus } from "../../core/status.js";
import type { TaskValues } from "../records/schema.js";

// The monotonic merge of a task row with an incoming one, written twice from the same column
// lists: in JS (to collapse several events of one task inside a batch) and in SQL (the
// ON CONFLICT DO UPDATE of upsertTasksSql below, run by PostgreSQL as multi-row statements,
// record.ts, and by SQLite as one prepared single-row statement, sqlite-writes.ts), so the merge
// with the stored row is one atomic statement in both engines, whatever other processes write
// concurrently. Both forms are the same associative fold, so collapse-then-upsert gives exactly
// what one upsert per event would have given.
//
// Rules, per column group:
// - version (status, rank, run, attempt): taken from the incoming row when it `supersedes` the
//   stored one (core/status.ts): newer (run, attempt, rank) wins; at an equal version a non-final
//   state is refreshed, but the first final state of an attempt is kept.
// - descriptive (function key, payload, queue, created time…): first non-null wins.
// - attempt facts (started/completed time, duration, run_at, result, worker, delivery count,
//   DLQ reason) describe the current attempt only. A newer attempt or run replaces all of them,
//   clearing what it does not carry (a retry's PENDING clears the previous result and
//   completedAt). Within the same attempt they fill each other's gaps, the winning event's values
//   first, so a late STARTED still contributes startedAt to an attempt already final.
// - error (the last failure): taken from the winner when it carries one, else kept. It survives a
//   retry's PENDING and STARTED on purpose: "retrying after: <error>" is what an operator wants
//   to see. A SUCCESS keeps it stored but rows.ts does not show it and search_text ignores it.
// - sort_at: created_at once known, else the earliest event time seen. updated_at: the latest.

const DESCRIPTIVE = [
  "function_key",
  "queue",
  "priority",
  "payload",
  "max_retries",
  "timeout_ms",
  "metadata",
  "idempotency_key",
  "created_at",
] as const;
const VERSION = ["status", "status_rank", "run", "attempt"] as const;
const ATTEMPT = [
  "started_at",
  "completed_at",
  "duration_ms",
  "run_at",
  "result",
  "worker_id",
  "delivery_count",
  "dead_letter_reason",
] as const;
const CARRIED = ["error", "error_search"] as const;

const FINAL_RANK = statusRank("SUCCESS");

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
/** Every stored column of `tasks` (search_text is computed by the database). */
export const TASK_COLUMNS = Object.keys(TASK_COLUMN_SET) as (keyof TaskValues)[];

function set<K extends keyof TaskValues>(row: TaskValues, key: K, value: TaskValues[K]): void {
  row[key] = value;
}

function version(row: TaskValues): { run: number; attempt: number; status: TaskStatus } {
  return { run: row.run, attempt: row.attempt, status: row.status as TaskStatus };
}

/** -1, 0 or 1: how the incoming (run, attempt) compares with the stored one. */
function compareAttempt(incoming: TaskValues, stored: TaskValues): number {
  if (incoming.run !== stored.run) return incoming.run > stored.run ? 1 : -1;
  if (incoming.attempt !== stored.attempt) return incoming.attempt > stored.attempt ? 1 : -1;
  return 0;
}

/** The JS form: `stored` is what came first (in the batch, or in the table). */
export function mergeTaskValues(stored: TaskValues, incoming: TaskValues): TaskValues {
  const wins = supersedes(version(incoming), version(stored));
  const attempt = compareAttempt(incoming, stored);
  const out: TaskValues = { ...stored };
  for (const key of DESCRIPTIVE) set(out, key, stored[key] ?? incoming[key]);
  if (wins) for (const key of VERSION) set(out, key, incoming[key]);
  for (const key of ATTEMPT) {
    const value =
      attempt > 0
        ? incoming[key]
        : attempt < 0
          ? stored[key]
          : wins
            ? (incoming[key] ?? stored[key])
            : (stored[key] ?? incoming[key]);
    set(out, key, value);
  }
  const incomingError = wins ? incoming.error !== null : stored.error === null;
  for (const key of CARRIED) set(out, key, incomingError ? incoming[key] : stored[key]);
  out.sort_at =
    stored.created_at !== null
      ? stored.sort_at
      : (incoming.created_at ?? Math.min(stored.sort_at, incoming.sort_at));
  out.updated_at = Math.max(stored.updated_at, incoming.updated_at);
  return out;
}

// The SQL form. Inside ON CONFLICT DO UPDATE, `tasks.x` is the stored row before the update and
// `excluded.x` the row proposed for insertion; every SET expression sees the old values, so the
// conditions below mean the same in every assignment.
const NEWER_ATTEMPT =
  "(excluded.run > tasks.run or (excluded.run = tasks.run and excluded.attempt > tasks.attempt))";
const SAME_ATTEMPT = "(excluded.run = tasks.run and excluded.attempt = tasks.attempt)";
const SUPERSEDES = `(${NEWER_ATTEMPT} or (${SAME_ATTEMPT} and (excluded.status_rank > tasks.status_rank or (excluded.status_rank = tasks.status_rank and tasks.status_rank < ${FINAL_RANK}))))`;

function assignment(column: string, expression: string): string {
  return `${column} = ${expression}`;
}

/**
 * The upsert of `rows` task rows, as plain SQL text for both engines:
 *
 *   insert into tasks (<every column>) values (...), (...), ...
 *   on conflict (id) do update set <column> = <merge of tasks.column and excluded.column>, ...
 *
 * One statement merges each row with whatever is stored at that instant, atomically, so writers
 * in several processes (API, workers) converge without reading first. `placeholder` names the
 * parameter of one column of one row (`@id` for better-sqlite3, `$27` for pg).
 */
export function upsertTasksSql(
  rows: number,
  placeholder: (row: number, columnIndex: number, column: keyof TaskValues) => string,
): string {
  const tuples: string[] = [];
  for (let r = 0; r < rows; r += 1) {
    tuples.push(`(${TASK_COLUMNS.map((c, i) => placeholder(r, i, c)).join(", ")})`);
  }
  return (
    `insert into tasks (${TASK_COLUMNS.join(", ")}) values ${tuples.join(", ")}` +
    ` on conflict (id) do update set ${mergeAssignments().join(", ")}`
  );
}

/** The SET list of the upsert: one `column = expression` per stored column, mirroring mergeTaskValues. */
function mergeAssignments(): string[] {
  const out: string[] = [];
  for (const c of DESCRIPTIVE) out.push(assignment(c, `coalesce(tasks.${c}, excluded.${c})`));
  for (const c of VERSION) {
    out.push(assignment(c, `case when ${SUPERSEDES} then excluded.${c} else tasks.${c} end`));
  }
  for (const c of ATTEMPT) {
    out.push(
      assignment(
        c,
        `case when ${NEWER_ATTEMPT} then excluded.${c}` +
          ` when ${SAME_ATTEMPT} and ${SUPERSEDES} then coalesce(excluded.${c}, tasks.${c})` +
          ` when ${SAME_ATTEMPT} then coalesce(tasks.${c}, excluded.${c})` +
          ` else tasks.${c} end`,
      ),
    );
  }
  for (const c of CARRIED) {
    out.push(
      assignment(
        c,
        `case when ${SUPERSEDES} then (case when excluded.error is not null then excluded.${c} else tasks.${c} end)` +
          ` when tasks.error is null then excluded.${c} else tasks.${c} end`,
      ),
    );
  }
  out.push(
    assignment(
      "sort_at",
      "case when tasks.created_at is not null then tasks.sort_at" +
        " when excluded.created_at is not null then excluded.created_at" +
        " when excluded.sort_at < tasks.sort_at then excluded.sort_at else tasks.sort_at end",
    ),
  );
  out.push(
    assignment(
      "updated_at",
      "case when excluded.updated_at > tasks.updated_at then excluded.updated_at else tasks.updated_at end",
    ),
  );
  return out;
}
