import type { TaskStatus } from "../core/status.js";

// The tracking seam: observability only. Best-effort, eventually consistent, non-authoritative.
// Workers write to it and never read from it; the API and CLI read it to show what happened.
//
// Guarantees every implementation gives (checked by `conformance/tracking.case.ts`):
// - `record` is idempotent and monotonic: an event replaces a task's status fields only when it
//   `supersedes` the stored (run, attempt, status) (core/status.ts), so out-of-order and
//   duplicated events converge to the same record. Descriptive fields (function key, payload,
//   queue, created time…) are filled from whichever event carries them first. The status fields
//   describe the current attempt: an event of a newer attempt or run replaces them all (a
//   retry's PENDING clears the previous result and completedAt), while events of the same
//   attempt fill each other's gaps (a late STARTED still sets startedAt). `error` is the last
//   failure: it stays visible while a retry is pending or running, and is hidden once the task
//   succeeds.
// - `list` filters by every field of `TaskQuery` and pages with an opaque cursor, newest first
//   by creation time (the first event's time while the creation time is unknown), without
//   skipping or repeating records that existed when the first page was read.
// - `purge` removes records, logs and heartbeats older than the cut-off.
// - `updates` lists records by the time of their latest event (`updatedAt`), oldest first, so a
//   poller (the dashboard's live stream) can follow every change from one cursor. `throughput`
//   counts tasks that reached SUCCESS or FAILURE per queue and per time bucket.
//
// Errors: `unavailable` when the backend cannot be reached (the best-effort writer retries),
// `internal` when it was reached but refused the data (the writer drops the refused item),
// `invalid_argument` for a bad query (limit, cursor).
//
// Internal: reshape freely. Implementations: sql (SQLite, PostgreSQL), redis, none.
// (updates and throughput were added for the dashboard, issue 7.)

export interface TaskErrorInfo {
  message: string;
  type: string;
  stack?: string;
}

/** One observed step of a task. Times are epoch milliseconds. */
export interface TaskEvent {
  taskId: string;
  run: number;
  attempt: number;
  status: TaskStatus;
  /** When the step happened. */
  at: number;
  // Descriptive fields: the producer's event carries all of them, workers' events most.
  functionKey?: string;
  queue?: string;
  priority?: number;
  payload?: unknown;
  maxRetries?: number;
  timeoutMs?: number;
  metadata?: Record<string, string>;
  idempotencyKey?: string;
  createdAt?: number;
  // Status fields: applied only when this event supersedes the stored state.
  startedAt?: number;
  completedAt?: number;
  durationMs?: number;
  result?: unknown;
  error?: TaskErrorInfo;
  workerId?: string;
  deliveryCount?: number;
  /** When the next attempt becomes due (a retry, or a delayed submission). */
  runAt?: number;
  /** Set with FAILURE: why the task is in the DLQ. */
  deadLetterReason?: string;
}

/** The tracked state of one task. Times are ISO 8601 strings (or null when not reached). */
export interface TaskRecord {
  id: string;
  functionKey: string | null;
  queue: string | null;
  priority: number | null;
  /** undefined when no event carried the payload (requeue tells that apart from JSON null). */
  payload: unknown;
  status: TaskStatus;
  run: number;
  attempt: number;
  maxRetries: number | null;
  timeoutMs: number | null;
  metadata: Record<string, string>;
  idempotencyKey: string | null;
  createdAt: string | null;
  startedAt: string | null;
  completedAt: string | null;
  durationMs: number | null;
  runAt: string | null;
  result: unknown;
  /** The last failure (also while a retry is pending); null when none, or once SUCCESS. */
  error: TaskErrorInfo | null;
  workerId: string | null;
  deliveryCount: number | null;
  deadLetterReason: string | null;
  /** Time of the latest event merged into the record (retention purges on it). */
  updatedAt: string;
}

export interface TaskLogLine {
  taskId: string;
  attempt: number;
  /** Epoch ms. */
  at: number;
  level: "debug" | "info" | "warn" | "error";
  message: string;
}

export interface WorkerHeartbeat {
  workerId: string;
  host: string;
  pid: number;
  queues: string[];
  concurrency: number;
  running: number;
  functions: string[];
  version: string;
  startedAt: number;
  /** Epoch ms of this heartbeat. */
  seenAt: number;
  /** Set on the last heartbeat of a worker that shut down cleanly. */
  stoppedAt?: number;
}

export interface TaskQuery {
  status?: TaskStatus[];
  functionKey?: string;
  queue?: string;
  /** Case-insensitive substring of the id, function key or error message (% and _ literal). */
  text?: string;
  /**
   * Only tasks whose metadata holds exactly this pair (e.g. the scheduler's
   * `gotaskq.schedule` = a schedule id). Checked per candidate, like `text`.
   */
  metadata?: { key: string; value: string };
  /** Created at or after (epoch ms). */
  since?: number;
  /** Created before (epoch ms). */
  until?: number;
  /** 1–500, default 50. */
  limit?: number;
  cursor?: string;
}

export interface TaskPage {
  tasks: TaskRecord[];
  nextCursor?: string;
}

/**
 * `updates()`: records whose updatedAt is at or after `updatedSince` (epoch ms), ordered by
 * (updatedAt, id) ascending. With `after`, only those strictly after that (updatedAt, id) key:
 * the next page. updatedAt is an event time (the writer's clock), not the time the store
 * received it, so a poller must look back over a window to catch late writes (api/task-feed.ts).
 */
export interface TaskUpdatesQuery {
  updatedSince: number;
  after?: { updatedAt: number; id: string };
  /** 1–500, default 50. */
  limit?: number;
}

/**
 * `throughput()`: tasks whose current run ended in SUCCESS or FAILURE with completedAt at or
 * after `since` (epoch ms), counted per queue and per `bucketMs` bucket. A bucket starts at a
 * multiple of bucketMs (epoch-aligned); only buckets with at least one task are returned.
 * A retried-then-successful task counts once, as succeeded; FAILURE means dead-lettered.
 */
export interface ThroughputQuery {
  since: number;
  /** 1,000 ms – 1 day. */
  bucketMs: number;
}

export interface ThroughputBucket {
  queue: string;
  /** Epoch ms, a multiple of bucketMs. */
  start: number;
  succeeded: number;
  failed: number;
}

export interface PurgeResult {
  tasks: number;
  logs: number;
  workers: number;
}

export interface TrackingStore {
  readonly kind: string;
  /** Creates or upgrades the schema; safe to call on every start and from several processes. */
  migrate(): Promise<void>;
  record(events: readonly TaskEvent[]): Promise<void>;
  appendLogs(lines: readonly TaskLogLine[]): Promise<void>;
  heartbeat(workers: readonly WorkerHeartbeat[]): Promise<void>;
  get(taskId: string): Promise<TaskRecord | undefined>;
  list(query: TaskQuery): Promise<TaskPage>;
  /** The task's most recent `limit` lines (1–10,000, default 1,000), oldest first. */
  logs(taskId: string, options?: { limit?: number }): Promise<TaskLogLine[]>;
  /** Records changed since a point in time, oldest change first (see TaskUpdatesQuery). */
  updates(query: TaskUpdatesQuery): Promise<TaskRecord[]>;
  /** Finished tasks per queue and time bucket (see ThroughputQuery), in no particular order. */
  throughput(query: ThroughputQuery): Promise<ThroughputBucket[]>;
  /** Workers whose last heartbeat is at or after `seenSince` (epoch ms). */
  workers(options: { seenSince: number }): Promise<WorkerHeartbeat[]>;
  /**
   * Removes tasks last updated, logs written and workers last seen before `olderThan` (epoch ms).
   * A task whose runAt is still at or after the cut-off (a long delay) is kept.
   */
  purge(options: { olderThan: number }): Promise<PurgeResult>;
  close(): Promise<void>;
}
