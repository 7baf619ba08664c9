// The JSON shapes the dashboard reads, as the REST API sends them (src/api/rest/response-schemas.ts
// and the dashboard contract). Snake_case like the wire; times are ISO 8601 strings.

export const TASK_STATUSES = ["PENDING", "STARTED", "SUCCESS", "FAILURE", "CANCELED"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export type Role = "viewer" | "operator";

export interface Session {
  operator: { name: string; role: Role };
  csrf_token: string;
}

export interface TaskError {
  message?: string;
  type?: string;
  stack?: string;
}

export interface TaskRecord {
  id: string;
  status: TaskStatus;
  function_key: string | null;
  queue: string | null;
  priority: number | null;
  payload?: unknown;
  run: number;
  attempt: number;
  max_retries: number | null;
  timeout_ms: number | null;
  metadata: Record<string, string>;
  idempotency_key: string | null;
  created_at: string | null;
  started_at: string | null;
  completed_at: string | null;
  duration_ms: number | null;
  run_at: string | null;
  result?: unknown;
  error: TaskError | null;
  worker_id: string | null;
  delivery_count: number | null;
  dead_letter_reason: string | null;
  updated_at: string;
}

export interface TaskPage {
  tasks: TaskRecord[];
  next_cursor?: string;
}

export interface LogLine {
  attempt: number;
  at: string;
  level: "debug" | "info" | "warn" | "error";
  message: string;
}

export interface QueueStats {
  queue: string;
  ready: number;
  in_flight: number;
  delayed: number;
  dead_lettered: number;
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

export interface WorkerInfo {
  worker_id: string;
  host: string;
  pid: number;
  queues: string[];
  concurrency: number;
  running: number;
  functions: string[];
  version?: string;
  started_at?: string;
  seen_at: string;
  stopped_at?: string;
}

export interface FunctionInfo {
  key: string;
  queue?: string;
  description?: string;
  /** The payload's JSON Schema when the function declares one. */
  payload_schema?: unknown;
  /** Older servers name it `schema`. */
  schema?: unknown;
  timeout_ms?: number;
  max_retries?: number;
  priority?: number;
}

export interface DeadLetterEntry {
  id: string;
  queue: string;
  reason: string;
  detail: string;
  dead_lettered_at: string;
  function_key?: string;
  attempt?: number;
  run?: number;
  payload?: unknown;
  body?: string;
}

export interface DeadLetterPage {
  entries: DeadLetterEntry[];
  next_cursor?: string;
}

export interface RequeuedTask {
  id: string;
  status: "PENDING";
  queue: string;
  run: number;
  source: string;
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

function rank(status: TaskStatus): number {
  return status === "PENDING" ? 0 : status === "STARTED" ? 1 : 2;
}

/**
 * Whether `incoming` is a newer state of the task than `current` (events may arrive out of
 * order with a page load): newer (run, attempt, status rank) wins, like the tracking store's merge.
 */
export function isNewer(incoming: TaskRecord, current: TaskRecord): boolean {
  if (incoming.run !== current.run) return incoming.run > current.run;
  if (incoming.attempt !== current.attempt) return incoming.attempt > current.attempt;
  const a = rank(incoming.status);
  const b = rank(current.status);
  if (a !== b) return a > b;
  return incoming.updated_at >= current.updated_at;
}
