// The JSON shapes the dashboard reads. Those with a schema in src/api/rest/response-schemas.ts
// are generated from it (rest-responses.gen.ts, written by `npm run gen:dashboard-types`), so a
// renamed or retyped response field fails the dashboard's type check. The rest are written here:
// the session and throughput answers, whose schemas sit beside their routes, not in
// response-schemas.ts. Snake_case like the wire; times are ISO 8601 strings.

import type { TaskRecord } from "./rest-responses.gen";

export type {
  DeadLetterPage,
  DeadLetterRequeued,
  FunctionList,
  QueueList,
  QueueStats,
  Schedule,
  ScheduleList,
  SubmittedTask,
  TaskLogLine,
  TaskLogLines,
  TaskPage,
  TaskRecord,
  Worker,
  WorkerList,
} from "./rest-responses.gen";

export type TaskStatus = TaskRecord["status"];

// Each status's place in a task's life (the final ones share the last). A Record, so a status
// the server adds fails the type check until it is placed here.
const STATUS_RANK: Record<TaskStatus, number> = {
  PENDING: 0,
  STARTED: 1,
  SUCCESS: 2,
  FAILURE: 2,
  CANCELED: 2,
};

/** Every status, in lifecycle order. */
export const TASK_STATUSES = Object.keys(STATUS_RANK) as readonly TaskStatus[];

export type Role = "viewer" | "operator";

export interface Session {
  operator: { name: string; role: Role };
  csrf_token: string;
}

export interface ThroughputBucket {
  start: string;
  succeeded: number;
  failed: number;
}

export interface QueueThroughput {
  queue: string;
  buckets: ThroughputBucket[];
}

export const FINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(["SUCCESS", "FAILURE", "CANCELED"]);

/** Throughput answers are read leniently: `{queues:[…]}`, `{series:[…]}` or a bare array. */
export function throughputSeries(body: unknown): QueueThroughput[] {
  const list = Array.isArray(body)
    ? body
    : typeof body === "object" && body !== null
      ? ((body as Record<string, unknown>).queues ?? (body as Record<string, unknown>).series)
      : undefined;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (s): s is QueueThroughput =>
      typeof s === "object" &&
      s !== null &&
      typeof s.queue === "string" &&
      Array.isArray(s.buckets),
  );
}

/**
 * Whether `incoming` is a newer state of the task than `current` (events may arrive out of
 * order with a page load): newer (run, attempt, status rank) wins, like the tracking store's merge.
 */
export function isNewer(incoming: TaskRecord, current: TaskRecord): boolean {
  if (incoming.run !== current.run) return incoming.run > current.run;
  if (incoming.attempt !== current.attempt) return incoming.attempt > current.attempt;
  const a = STATUS_RANK[incoming.status];
  const b = STATUS_RANK[current.status];
  if (a !== b) return a > b;
  return incoming.updated_at >= current.updated_at;
}
