import type { QueueStats } from "../../broker/broker.js";
import type { RequeuedTask } from "../../producer/requeue.js";
import type { TaskLogLine, TaskRecord, WorkerHeartbeat } from "../../tracking/tracking-store.js";
import type { FunctionView } from "../task-service.js";

// Domain objects → REST wire shapes (response-schemas.ts): snake_case like the submission body,
// epoch-ms times as ISO 8601. The TaskService returns domain types so each transport picks its
// own wire form; this is REST's.

const iso = (ms: number): string => new Date(ms).toISOString();

export function taskRecordWire(r: TaskRecord) {
  return {
    id: r.id,
    status: r.status,
    function_key: r.functionKey,
    queue: r.queue,
    priority: r.priority,
    payload: r.payload,
    run: r.run,
    attempt: r.attempt,
    max_retries: r.maxRetries,
    timeout_ms: r.timeoutMs,
    metadata: r.metadata,
    idempotency_key: r.idempotencyKey,
    created_at: r.createdAt,
    started_at: r.startedAt,
    completed_at: r.completedAt,
    duration_ms: r.durationMs,
    run_at: r.runAt,
    result: r.result,
    error: r.error,
    worker_id: r.workerId,
    delivery_count: r.deliveryCount,
    dead_letter_reason: r.deadLetterReason,
    updated_at: r.updatedAt,
  };
}

export function logLineWire(l: TaskLogLine) {
  return { attempt: l.attempt, at: iso(l.at), level: l.level, message: l.message };
}

export function queueStatsWire(s: QueueStats) {
  return {
    queue: s.queue,
    ready: s.ready,
    in_flight: s.inFlight,
    delayed: s.delayed,
    dead_lettered: s.deadLettered,
  };
}

export function requeuedWire(r: RequeuedTask) {
  return { id: r.id, status: "PENDING" as const, queue: r.queue, run: r.run, source: r.source };
}

export function workerWire(w: WorkerHeartbeat) {
  return {
    worker_id: w.workerId,
    host: w.host,
    pid: w.pid,
    queues: w.queues,
    concurrency: w.concurrency,
    running: w.running,
    functions: w.functions,
    version: w.version,
    started_at: iso(w.startedAt),
    seen_at: iso(w.seenAt),
    ...(w.stoppedAt !== undefined ? { stopped_at: iso(w.stoppedAt) } : {}),
  };
}

/** `nextCursor` → `next_cursor`, only when there is a next page. */
export function cursorWire(nextCursor: string | undefined): { next_cursor?: string } {
  return nextCursor !== undefined ? { next_cursor: nextCursor } : {};
}

/** A function and the defaults a submission of it gets (what the dashboard's form is built from). */
export function functionWire(f: FunctionView) {
  return {
    key: f.key,
    ...(f.queue !== undefined ? { queue: f.queue } : {}),
    ...(f.description !== undefined ? { description: f.description } : {}),
    ...(f.schema !== undefined ? { payload_schema: f.schema, schema: f.schema } : {}),
    ...(f.priority !== undefined ? { priority: f.priority } : {}),
    ...(f.timeoutMs !== undefined ? { timeout_ms: f.timeoutMs } : {}),
    ...(f.maxRetries !== undefined ? { max_retries: f.maxRetries } : {}),
  };
}
