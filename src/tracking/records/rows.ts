import { InvalidArgumentError } from "../../core/errors.js";
import { parseJsonSafe } from "../../core/json-guard.js";
import { isTaskStatus, statusRank } from "../../core/status.js";
import type {
  TaskErrorInfo,
  TaskEvent,
  TaskLogLine,
  TaskRecord,
  WorkerHeartbeat,
} from "../tracking-store.js";
import type { TaskLogRow, TaskRow, TaskValues, WorkerRow, WorkersTable } from "./schema.js";

// Conversions between the seam's types and table rows. Writes are defensive: one value the
// database refuses would fail its whole batch again on every retry, so numbers that are not
// finite become NULL, NUL characters (PostgreSQL text refuses them) are replaced, and a value
// JSON cannot encode is stored as a description instead.

/** Text as both engines accept it. */
export function dbText(value: string): string {
  return value.includes("\u0000") ? value.replaceAll("\u0000", "\uFFFD") : value;
}

export function optText(value: string | undefined): string | null {
  return value === undefined ? null : dbText(value);
}

export function optInt(value: number | undefined): number | null {
  return value !== undefined && Number.isFinite(value) ? Math.trunc(value) : null;
}

export function time(value: number): number {
  return Number.isFinite(value) ? Math.trunc(value) : Date.now();
}

/** JSON text, or NULL for undefined (not carried). */
export function jsonText(value: unknown): string | null {
  if (value === undefined) return null;
  // JSON.stringify's own answer without the call: most successful tasks' result.
  if (value === null) return "null";
  try {
    return JSON.stringify(value) ?? null;
  } catch (error) {
    return JSON.stringify(`[unserializable value: ${(error as Error).message}]`);
  }
}

/**
 * jsonText of an event's metadata, most often an empty object (every event carries the
 * envelope's): `{}` is answered without JSON.stringify (a quarter of the time) when JSON.stringify could
 * see nothing else, a plain object without enumerable keys or toJSON.
 */
export function metadataText(value: unknown): string | null {
  if (typeof value === "object" && value !== null && isEmptyPlainObject(value)) return "{}";
  return jsonText(value);
}

function isEmptyPlainObject(value: object): boolean {
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const _ in value) return false;
  return (value as { toJSON?: unknown }).toJSON === undefined;
}

function parseJson(text: string | null): unknown {
  if (text === null) return undefined;
  try {
    return parseJsonSafe(text);
  } catch {
    return text;
  }
}

/**
 * The row an event proposes. With `known` (an earlier row of the same task in the batch), the
 * descriptive JSON fields it already has are left NULL instead of encoded again: the merge keeps
 * the first non-null descriptive value, so the result is the same for less work (the worker's
 * events carry the payload on every step).
 */
export function eventToValues(event: TaskEvent, known?: TaskValues): TaskValues {
  const at = time(event.at);
  const createdAt = optInt(event.createdAt);
  const error: TaskErrorInfo | undefined = event.error;
  return {
    id: dbText(event.taskId),
    function_key: optText(event.functionKey),
    queue: optText(event.queue),
    priority: optInt(event.priority),
    payload: known?.payload != null ? null : jsonText(event.payload),
    max_retries: optInt(event.maxRetries),
    timeout_ms: optInt(event.timeoutMs),
    metadata: known?.metadata != null ? null : metadataText(event.metadata),
    idempotency_key: optText(event.idempotencyKey),
    created_at: createdAt,
    sort_at: createdAt ?? at,
    status: event.status,
    status_rank: statusRank(event.status),
    run: optInt(event.run) ?? 0,
    attempt: optInt(event.attempt) ?? 0,
    started_at: optInt(event.startedAt),
    completed_at: optInt(event.completedAt),
    duration_ms: optInt(event.durationMs),
    run_at: optInt(event.runAt),
    result: jsonText(event.result),
    worker_id: optText(event.workerId),
    delivery_count: optInt(event.deliveryCount),
    dead_letter_reason: optText(event.deadLetterReason),
    error: error ? jsonText(error) : null,
    error_search: error ? dbText(String(error.message).toLowerCase()) : null,
    updated_at: at,
  };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function errorInfo(text: string | null): TaskErrorInfo | null {
  const value = parseJson(text);
  if (typeof value !== "object" || value === null) return null;
  const v = value as Record<string, unknown>;
  return {
    message: typeof v.message === "string" ? v.message : "",
    type: typeof v.type === "string" ? v.type : "Error",
    ...(typeof v.stack === "string" ? { stack: v.stack } : {}),
  };
}

function stringMap(text: string | null): Record<string, string> {
  const value = parseJson(text);
  const out: Record<string, string> = {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === "string") out[k] = v;
  return out;
}

export function rowToRecord(row: TaskRow | TaskValues): TaskRecord {
  const status = isTaskStatus(row.status) ? row.status : "PENDING";
  return {
    id: row.id,
    functionKey: row.function_key,
    queue: row.queue,
    priority: row.priority,
    // undefined, not null, when no event carried a payload: requeue must tell "unknown" apart
    // from a payload that is JSON null.
    payload: parseJson(row.payload),
    status,
    run: row.run,
    attempt: row.attempt,
    maxRetries: row.max_retries,
    timeoutMs: row.timeout_ms,
    metadata: stringMap(row.metadata),
    idempotencyKey: row.idempotency_key,
    createdAt: iso(row.created_at),
    startedAt: iso(row.started_at),
    completedAt: iso(row.completed_at),
    durationMs: row.duration_ms,
    runAt: iso(row.run_at),
    result: parseJson(row.result) ?? null,
    // The last failure stays stored after a successful retry (merge.ts) but is not the outcome.
    error: status === "SUCCESS" ? null : errorInfo(row.error),
    workerId: row.worker_id,
    deliveryCount: row.delivery_count,
    deadLetterReason: row.dead_letter_reason,
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

const LEVELS = new Set<TaskLogLine["level"]>(["debug", "info", "warn", "error"]);

export function logLineToRow(line: TaskLogLine): Omit<TaskLogRow, "seq"> {
  return {
    task_id: dbText(line.taskId),
    attempt: optInt(line.attempt) ?? 0,
    at: time(line.at),
    level: LEVELS.has(line.level) ? line.level : "info",
    message: dbText(String(line.message)),
  };
}

export function rowToLogLine(row: Omit<TaskLogRow, "seq">): TaskLogLine {
  const level = LEVELS.has(row.level as TaskLogLine["level"])
    ? (row.level as TaskLogLine["level"])
    : "info";
  return { taskId: row.task_id, attempt: row.attempt, at: row.at, level, message: row.message };
}

export function heartbeatToRow(hb: WorkerHeartbeat): WorkersTable {
  return {
    worker_id: dbText(hb.workerId),
    host: dbText(hb.host),
    pid: optInt(hb.pid) ?? 0,
    queues: jsonText(hb.queues) ?? "[]",
    concurrency: optInt(hb.concurrency) ?? 0,
    running: optInt(hb.running) ?? 0,
    functions: jsonText(hb.functions) ?? "[]",
    version: dbText(hb.version),
    started_at: time(hb.startedAt),
    seen_at: time(hb.seenAt),
    stopped_at: optInt(hb.stoppedAt),
  };
}

function stringList(text: string): string[] {
  const value = parseJson(text);
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

export function rowToHeartbeat(row: WorkerRow): WorkerHeartbeat {
  return {
    workerId: row.worker_id,
    host: row.host,
    pid: row.pid,
    queues: stringList(row.queues),
    concurrency: row.concurrency,
    running: row.running,
    functions: stringList(row.functions),
    version: row.version,
    startedAt: row.started_at,
    seenAt: row.seen_at,
    ...(row.stopped_at !== null ? { stoppedAt: row.stopped_at } : {}),
  };
}

/** The list position after which the next page starts: the last row's (sort_at, id). */
export interface ListPosition {
  sortAt: number;
  id: string;
}

export function encodeCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify([position.sortAt, position.id])).toString("base64url");
}

export function decodeCursor(cursor: string): ListPosition {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      Number.isSafeInteger(value[0]) &&
      typeof value[1] === "string"
    ) {
      return { sortAt: value[0] as number, id: value[1] };
    }
  } catch {
    // falls through to the error below
  }
  throw new InvalidArgumentError(
    "cursor is not one this server returned; start again without a cursor to read the first page",
  );
}
