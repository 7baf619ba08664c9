import { InvalidArgumentError } from "../../core/errors.js";
import { isTaskStatus, TASK_STATUSES, type TaskStatus } from "../../core/status.js";
import {
  asObject,
  defined,
  type Loose,
  optionalNumber,
  optionalString,
  parseJsonField,
  stringList,
  stringMap,
} from "./wire.js";

// Proto requests → the service layer's inputs. These only rename and reshape (the proto's
// `payload_json` text becomes the REST body's `payload` value, a Backoff oneof becomes the
// `{"type":…}` object); every rule (ranges, patterns, limits) is the service's, so gRPC and
// REST refuse the same input with the same message.

export const STATUS_PREFIX = "TASK_STATUS_";

/** A SubmitTaskRequest as the REST body of POST /v1/tasks. */
export function submissionOf(request: Loose): Record<string, unknown> {
  const payloadJson = optionalString(request, "payload_json");
  return defined({
    function_key: optionalString(request, "function_key"),
    payload: payloadJson === undefined ? undefined : parseJsonField(payloadJson, "payload_json"),
    queue: optionalString(request, "queue"),
    priority: optionalNumber(request, "priority"),
    timeout_ms: optionalNumber(request, "timeout_ms"),
    max_retries: optionalNumber(request, "max_retries"),
    backoff: request.backoff === undefined ? undefined : backoffOf(asObject(request.backoff)),
    delay_ms: optionalNumber(request, "delay_ms"),
    run_at: optionalString(request, "run_at"),
    idempotency_key: optionalString(request, "idempotency_key"),
    idempotency_ttl_ms: optionalNumber(request, "idempotency_ttl_ms"),
    metadata: stringMap(request, "metadata"),
    unique:
      request.unique === undefined || request.unique === null
        ? undefined
        : uniqueOf(asObject(request.unique)),
  });
}

function uniqueOf(unique: Loose): Record<string, unknown> {
  return defined({
    key: optionalString(unique, "key"),
    until: optionalString(unique, "until"),
    ttl_ms: optionalNumber(unique, "ttl_ms"),
  });
}

function backoffOf(backoff: Loose): Record<string, unknown> {
  const exponential = backoff.exponential;
  if (exponential !== undefined && exponential !== null) {
    const e = asObject(exponential);
    return defined({
      type: "exponential",
      base_ms: optionalNumber(e, "base_ms"),
      max_ms: optionalNumber(e, "max_ms"),
    });
  }
  const fixed = backoff.fixed;
  if (fixed !== undefined && fixed !== null) {
    return { type: "fixed", delay_ms: optionalNumber(asObject(fixed), "delay_ms") ?? 0 };
  }
  throw new InvalidArgumentError(
    "backoff must set either exponential {base_ms, max_ms} or fixed {delay_ms}",
  );
}

/** The `id` of GetTask, GetTaskLogs, CancelTask, RequeueTask, WatchTask ("" when absent). */
export function taskIdOf(request: Loose): string {
  return optionalString(request, "id") ?? "";
}

/** A ListTasksRequest as the query of GET /v1/tasks. */
export function listQueryOf(request: Loose): Record<string, unknown> {
  const status = request.status;
  const statuses = Array.isArray(status) ? status.map(taskStatusOf) : [];
  return defined({
    status: statuses.length > 0 ? statuses : undefined,
    function_key: optionalString(request, "function_key"),
    queue: optionalString(request, "queue"),
    q: optionalString(request, "q"),
    since: optionalString(request, "since"),
    until: optionalString(request, "until"),
    limit: optionalNumber(request, "limit"),
    cursor: optionalString(request, "cursor"),
    schedule: optionalString(request, "schedule"),
  });
}

/** A ScheduleSpec as the REST body of POST /v1/schedules. */
export function scheduleSpecOf(spec: Loose): Record<string, unknown> {
  const payloadJson = optionalString(spec, "payload_json");
  return defined({
    id: optionalString(spec, "id"),
    function_key: optionalString(spec, "function_key"),
    cron: optionalString(spec, "cron"),
    timezone: optionalString(spec, "timezone"),
    every: optionalString(spec, "every"),
    payload: payloadJson === undefined ? undefined : parseJsonField(payloadJson, "payload_json"),
    queue: optionalString(spec, "queue"),
    priority: optionalNumber(spec, "priority"),
    timeout_ms: optionalNumber(spec, "timeout_ms"),
    max_retries: optionalNumber(spec, "max_retries"),
    backoff:
      spec.backoff === undefined || spec.backoff === null
        ? undefined
        : backoffOf(asObject(spec.backoff)),
    metadata: stringMap(spec, "metadata"),
    missed: optionalString(spec, "missed"),
    catch_up_max: optionalNumber(spec, "catch_up_max"),
    overlap: optionalString(spec, "overlap"),
    paused: typeof spec.paused === "boolean" ? spec.paused : undefined,
  });
}

/** A TaskStatus enum value (its name, or a number the proto does not define) → "PENDING". */
export function taskStatusOf(value: unknown): TaskStatus {
  const name = typeof value === "string" ? value.replace(STATUS_PREFIX, "") : undefined;
  if (isTaskStatus(name)) return name;
  throw new InvalidArgumentError(
    `status ${JSON.stringify(value)} is not a task status; use ${TASK_STATUSES.map((s) => STATUS_PREFIX + s).join(", ")}`,
  );
}

export function logsQueryOf(request: Loose): { limit?: number } {
  return defined({ limit: optionalNumber(request, "limit") });
}

export function requeueOptionsOf(request: Loose): { queue?: string } {
  return defined({ queue: optionalString(request, "queue") });
}

export function deadLetterQueryOf(request: Loose): Record<string, unknown> {
  return defined({
    limit: optionalNumber(request, "limit"),
    cursor: optionalString(request, "cursor"),
    reason: optionalString(request, "reason"),
  });
}

/** The RequeueDeadLettersRequest selector oneof as the REST body {"ids"} | {"reason"} | {"all"}. */
export function deadLetterSelectorOf(request: Loose): Record<string, unknown> {
  if (request.ids !== undefined && request.ids !== null) {
    return { ids: stringList(asObject(request.ids), "ids") };
  }
  const reason = optionalString(request, "reason");
  if (reason !== undefined) return { reason };
  if (request.all === true) return { all: true };
  throw new InvalidArgumentError(
    "say which dead letters to requeue: set ids {ids: [...]}, a reason, or all = true",
  );
}
