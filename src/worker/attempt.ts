import type { Delivery } from "../broker/broker.js";
import type { BackoffPolicy, CustomBackoff } from "../core/backoff.js";
import type { TaskEnvelope } from "../core/envelope.js";
import { CanceledError, PermanentError } from "../core/errors.js";
import type { Logger } from "../logging/logger.js";
import type { RegisteredTask } from "../tasks/registry.js";
import { taskEvent } from "../tasks/task-events.js";
import type { TrackingSink } from "../tracking/tracking-sink.js";
import type { TaskEvent } from "../tracking/tracking-store.js";
import type { UniqueRelease } from "./unique-release.js";

// One attempt of a task as the worker sees it, and the rules derived from it: the effective
// limits (envelope, then the function's options, then the worker's defaults), how a thrown value
// is classified (permanent, canceled, retryable), the shape of its tracking events and log lines,
// and how a result is made safe to store.

export interface SettleDeps {
  tracking: TrackingSink;
  logger: Logger;
  workerId: string;
  now: () => number;
  random: () => number;
  maxDelayMs: number;
  defaults: { maxRetries: number; timeoutMs: number; backoff: BackoffPolicy | CustomBackoff };
  /** Frees unique tasks' keys when they start or end (absent: nothing to free). */
  unique?: UniqueRelease;
}

/** A delivery whose envelope decoded; `task` is absent for an unknown function key. */
export interface AttemptRef {
  delivery: Delivery;
  envelope: TaskEnvelope;
  task?: RegisteredTask;
  /** Set once the handler started. */
  startedAt?: number;
}

/** One attempt that ran a handler. */
export interface Attempt extends AttemptRef {
  task: RegisteredTask;
  startedAt: number;
}

/** Result documents above this size are replaced by a note: the tracking store is not a blob store. */
export const MAX_RESULT_BYTES = 1_048_576;

export function effectiveMaxRetries(
  deps: SettleDeps,
  envelope: TaskEnvelope,
  task?: RegisteredTask,
): number {
  return envelope.max_retries ?? task?.options.maxRetries ?? deps.defaults.maxRetries;
}

export function effectiveTimeoutMs(
  deps: SettleDeps,
  envelope: TaskEnvelope,
  task?: RegisteredTask,
): number {
  return envelope.timeout_ms ?? task?.options.timeoutMs ?? deps.defaults.timeoutMs;
}

/**
 * The tracking event of one step of an attempt, with the worker's fields. Callers assign the
 * status fields to the returned object, and build none at all when `deps.tracking.enabled` is
 * false. `envelope` defaults to the attempt's (a retry records its next attempt's).
 */
export function eventOf(
  deps: SettleDeps,
  attempt: AttemptRef,
  status: TaskEvent["status"],
  envelope: TaskEnvelope = attempt.envelope,
): TaskEvent {
  const { task } = attempt;
  const event = taskEvent(envelope, status, deps.now(), {
    maxRetries: effectiveMaxRetries(deps, envelope, task),
    timeoutMs: effectiveTimeoutMs(deps, envelope, task),
  });
  event.workerId = deps.workerId;
  event.deliveryCount = attempt.delivery.deliveryCount;
  return event;
}

/**
 * One pino line per lifecycle event, carrying what a log pipeline needs to follow a task. Costs
 * nothing but the caller's `fields` when the level is off.
 */
export function logLifecycle(
  logger: Logger,
  level: "info" | "warn" | "error",
  event: string,
  envelope: Pick<TaskEnvelope, "id" | "function_key" | "attempt" | "run"> | undefined,
  fields: Record<string, unknown>,
  message: string,
): void {
  if (!logger.isLevelEnabled(level)) return;
  logger[level](
    {
      event,
      task_id: envelope?.id ?? fields.task_id,
      function_key: envelope?.function_key,
      attempt: envelope?.attempt,
      run: envelope?.run,
      ...fields,
    },
    message,
  );
}

// A CanceledError from another copy of gotaskq (a task package with its own dependency) is
// recognised by its code, like a PermanentError.
export function isCanceled(error: unknown): boolean {
  if (error instanceof CanceledError) return true;
  return (
    typeof error === "object" && error !== null && (error as { code?: unknown }).code === "canceled"
  );
}

/** PermanentError, or any error that says it must not be retried (another copy of gotaskq, or user code). */
export function isPermanent(error: unknown): boolean {
  if (error instanceof PermanentError) return true;
  if (typeof error !== "object" || error === null) return false;
  const e = error as { code?: unknown; retryable?: unknown };
  return e.code === "permanent" || e.retryable === false;
}

/** A handler's result as plain JSON the tracking store can hold (undefined → null). */
export function jsonResult(value: unknown): unknown {
  if (value === undefined) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    return { unserializable: true, note: `result is not JSON: ${(error as Error).message}` };
  }
  if (text === undefined) return null;
  if (Buffer.byteLength(text) > MAX_RESULT_BYTES) {
    return {
      truncated: true,
      note: `result of ${Buffer.byteLength(text)} bytes exceeds ${MAX_RESULT_BYTES}`,
    };
  }
  return JSON.parse(text) as unknown;
}
