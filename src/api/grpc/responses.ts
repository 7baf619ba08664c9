import type { QueueStats } from "../../broker/broker.js";
import type { TaskStatus } from "../../core/status.js";
import type { SubmittedTask } from "../../producer/producer.js";
import type { RequeuedTask } from "../../producer/requeue.js";
import type { TaskLogLine, TaskRecord, WorkerHeartbeat } from "../../tracking/tracking-store.js";
import type { ScheduleView } from "../schedule-service.js";
import type { BatchItemView, DeadLetterView, FunctionView } from "../task-service.js";
import { STATUS_PREFIX } from "./requests.js";
import { jsonText } from "./wire.js";

// The service layer's answers → proto messages (plain objects proto-loader serializes). Field
// names are the proto's; `null`/`undefined` leave an `optional` field unset; JSON values travel
// as `*_json` text; epoch-ms times become ISO 8601 strings, as in the REST API.

export type ProtoMessage = Record<string, unknown>;

export function protoStatus(status: TaskStatus): string {
  return STATUS_PREFIX + status;
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

export function submittedTaskMessage(task: SubmittedTask): ProtoMessage {
  return { ...task, status: protoStatus(task.status) };
}

/** `error` carries `index`, the item's position in the request, as data. */
export function batchResultMessage(item: BatchItemView): ProtoMessage {
  return "error" in item ? { error: item.error } : { id: item.id, duplicate: item.duplicate };
}

export function taskMessage(record: TaskRecord): ProtoMessage {
  return {
    id: record.id,
    status: protoStatus(record.status),
    function_key: record.functionKey,
    queue: record.queue,
    priority: record.priority,
    payload_json: jsonText(record.payload),
    run: record.run,
    attempt: record.attempt,
    max_retries: record.maxRetries,
    timeout_ms: record.timeoutMs,
    metadata: record.metadata,
    idempotency_key: record.idempotencyKey,
    created_at: record.createdAt,
    started_at: record.startedAt,
    completed_at: record.completedAt,
    duration_ms: record.durationMs,
    run_at: record.runAt,
    // The record holds null both for "no result yet" and a handler that returned null: unset.
    result_json: record.result === null ? undefined : jsonText(record.result),
    error: record.error,
    worker_id: record.workerId,
    delivery_count: record.deliveryCount,
    dead_letter_reason: record.deadLetterReason,
    updated_at: record.updatedAt,
  };
}

export function logLineMessage(line: TaskLogLine): ProtoMessage {
  return {
    task_id: line.taskId,
    attempt: line.attempt,
    at: iso(line.at),
    level: line.level,
    message: line.message,
  };
}

export function queueStatsMessage(stats: QueueStats): ProtoMessage {
  return {
    queue: stats.queue,
    ready: stats.ready,
    in_flight: stats.inFlight,
    delayed: stats.delayed,
    dead_lettered: stats.deadLettered,
  };
}

export function requeuedMessage(task: RequeuedTask): ProtoMessage {
  return {
    id: task.id,
    queue: task.queue,
    run: task.run,
    source: task.source,
    status: protoStatus("PENDING"),
  };
}

export function deadLetterMessage(view: DeadLetterView): ProtoMessage {
  const { payload, ...rest } = view;
  return { ...rest, payload_json: jsonText(payload) };
}

export function workerMessage(worker: WorkerHeartbeat): ProtoMessage {
  return {
    worker_id: worker.workerId,
    host: worker.host,
    pid: worker.pid,
    queues: worker.queues,
    concurrency: worker.concurrency,
    running: worker.running,
    functions: worker.functions,
    version: worker.version,
    started_at: iso(worker.startedAt),
    seen_at: iso(worker.seenAt),
    stopped_at: iso(worker.stoppedAt),
  };
}

export function functionMessage(fn: FunctionView): ProtoMessage {
  const { schema, key, queue, description } = fn;
  return { key, queue, description, schema_json: jsonText(schema) };
}

/** A ScheduleView as the Schedule message: the spec's fields nested, times as ISO strings. */
export function scheduleMessage(view: ScheduleView): ProtoMessage {
  const { state } = view;
  return {
    spec: {
      id: view.id,
      function_key: view.function_key,
      cron: view.cron,
      timezone: view.timezone,
      every: view.every,
      payload_json: jsonText(view.payload),
      queue: view.queue,
      priority: view.priority,
      timeout_ms: view.timeout_ms,
      max_retries: view.max_retries,
      metadata: view.metadata ?? {},
      missed: view.missed,
      catch_up_max: view.catch_up_max,
      overlap: view.overlap,
      paused: view.paused,
      backoff: backoffMessage(view.backoff),
    },
    source: view.source,
    created_at: iso(view.created_at),
    updated_at: iso(view.updated_at),
    next_runs: view.next_runs.map((t) => new Date(t).toISOString()),
    last_tick: iso(state.last_tick),
    last_task_id: state.last_task_id,
    last_outcome: state.last_outcome,
    last_status: view.last_status === undefined ? undefined : protoStatus(view.last_status),
    last_error: state.last_error,
    last_at: iso(state.last_at),
  };
}

function backoffMessage(backoff: ScheduleView["backoff"]): ProtoMessage | undefined {
  if (backoff === undefined) return undefined;
  if (backoff.type === "fixed") return { fixed: { delay_ms: backoff.delay_ms } };
  return { exponential: { base_ms: backoff.base_ms, max_ms: backoff.max_ms } };
}
