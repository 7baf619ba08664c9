import type { DeadLetterReason, Delivery } from "../broker/broker.js";
import { type BackoffPolicy, backoffDelayMs, type CustomBackoff } from "../core/backoff.js";
import { encodeEnvelope, type TaskEnvelope } from "../core/envelope.js";
import { CanceledError, describeError } from "../core/errors.js";
import type { TaskErrorInfo, TaskEvent } from "../tracking/tracking-store.js";
import {
  type Attempt,
  type AttemptRef,
  effectiveMaxRetries,
  eventOf,
  isCanceled,
  isPermanent,
  jsonResult,
  logLifecycle,
  type SettleDeps,
} from "./attempt.js";

// How an attempt ends: the broker is settled first (it is the source of truth), then the
// tracking event is recorded and the lifecycle line logged. A settle that fails is logged and
// not recorded: the broker still holds the message and redelivers it, so the task's next
// delivery will report what really happens. Nothing here throws.

/** Runs one settle call; false (logged) when the broker refused or failed. */
export function settleSafely(
  deps: SettleDeps,
  what: string,
  taskId: string,
  op: () => Promise<void>,
): Promise<boolean> {
  // A then-chain, not an async function: this runs for every delivery, and an async frame
  // suspended across the broker's commit costs several times more memory than one reaction.
  const failed = (error: unknown) => {
    deps.logger.error(
      { event: "settle_failed", task_id: taskId, settle: what, err: error },
      `could not ${what} the delivery; the broker will redeliver it`,
    );
    return false;
  };
  try {
    return Promise.resolve(op()).then(settled, failed);
  } catch (error) {
    return Promise.resolve(failed(error));
  }
}

function settled(): boolean {
  return true;
}

// A then-chain, not an async function, for the same reason as settleSafely: every successful
// task passes here, and an async frame suspended across the ack costs several times the memory of
// a closure and one promise (bench/results/micro-measurements.md).
// Same order as always: the ack first, then tracking and the log line only once it succeeded;
// anything thrown after the ack rejects the returned promise like the async function did.
export function settleSuccess(deps: SettleDeps, attempt: Attempt, result: unknown): Promise<void> {
  const { delivery, envelope } = attempt;
  return settleSafely(deps, "ack", envelope.id, () => delivery.ack()).then((acked) => {
    if (acked) deps.unique?.ended(envelope);
    if (acked) recordSuccess(deps, attempt, result);
  });
}

function recordSuccess(deps: SettleDeps, attempt: Attempt, result: unknown): void {
  const completedAt = deps.now();
  const durationMs = completedAt - attempt.startedAt;
  if (deps.tracking.enabled !== false) {
    const event = eventOf(deps, attempt, "SUCCESS");
    event.startedAt = attempt.startedAt;
    event.completedAt = completedAt;
    event.durationMs = durationMs;
    event.result = jsonResult(result);
    deps.tracking.record(event);
  }
  // Checked here too so no fields object is built per task when info lines are dropped.
  if (deps.logger.isLevelEnabled("info")) {
    const fields = { duration_ms: durationMs };
    logLifecycle(deps.logger, "info", "succeeded", attempt.envelope, fields, "task succeeded");
  }
}

export async function settleCanceled(
  deps: SettleDeps,
  attempt: AttemptRef,
  why: string,
): Promise<void> {
  const { delivery, envelope } = attempt;
  if (!(await settleSafely(deps, "ack", envelope.id, () => delivery.ack()))) return;
  deps.unique?.ended(envelope);
  if (deps.tracking.enabled !== false) {
    const completedAt = deps.now();
    const error = describeError(new CanceledError(why));
    const event = eventOf(deps, attempt, "CANCELED");
    event.completedAt = completedAt;
    event.error = { message: error.message, type: error.type };
    if (attempt.startedAt !== undefined) {
      event.startedAt = attempt.startedAt;
      event.durationMs = completedAt - attempt.startedAt;
    }
    deps.tracking.record(event);
  }
  logLifecycle(deps.logger, "info", "canceled", envelope, { reason: why }, "task canceled");
}

/**
 * The handler threw (or was abandoned after its signal aborted): cancel, dead-letter or retry.
 * `error` is the effective error: the signal's reason when the signal aborted.
 */
export async function settleFailure(
  deps: SettleDeps,
  attempt: Attempt,
  error: unknown,
): Promise<void> {
  const { envelope, task } = attempt;
  if (isCanceled(error)) return settleCanceled(deps, attempt, describeError(error).message);
  const info = describeError(error);
  const permanent = isPermanent(error);
  logLifecycle(
    deps.logger,
    "warn",
    "failed",
    envelope,
    { error: info.message, error_type: info.type, permanent },
    "task attempt failed",
  );
  const maxRetries = effectiveMaxRetries(deps, envelope, task);
  if (permanent) return deadLetterAttempt(deps, attempt, "permanent_error", info);
  if (envelope.attempt >= maxRetries)
    return deadLetterAttempt(deps, attempt, "retries_exhausted", info);
  return scheduleRetry(deps, attempt, error, info);
}

async function scheduleRetry(
  deps: SettleDeps,
  attempt: Attempt,
  error: unknown,
  info: TaskErrorInfo,
): Promise<void> {
  const { delivery, envelope, task } = attempt;
  const policy = envelope.backoff ?? task.options.backoff ?? deps.defaults.backoff;
  const raw = safeDelay(policy, envelope.attempt, error, deps);
  const delayMs = Math.min(Math.max(0, Math.floor(raw)), deps.maxDelayMs);
  const next: TaskEnvelope = { ...envelope, attempt: envelope.attempt + 1 };
  const body = encodeEnvelope(next);
  if (!(await settleSafely(deps, "retry", envelope.id, () => delivery.retry(body, delayMs))))
    return;
  if (deps.tracking.enabled !== false) {
    const event = eventOf(deps, attempt, "PENDING", next);
    event.error = info;
    event.runAt = event.at + delayMs;
    deps.tracking.record(event);
  }
  logLifecycle(
    deps.logger,
    "info",
    "retry_scheduled",
    next,
    { delay_ms: delayMs, error: info.message },
    "task retry scheduled",
  );
}

// A custom backoff is user code: if it throws, retry after the default policy rather than crash.
function safeDelay(
  policy: BackoffPolicy | CustomBackoff,
  attempt: number,
  error: unknown,
  deps: SettleDeps,
): number {
  try {
    return backoffDelayMs(policy, attempt, error, deps.random);
  } catch (thrown) {
    deps.logger.warn({ err: thrown }, "custom backoff threw; using the worker's default backoff");
    const fallback =
      typeof deps.defaults.backoff === "function"
        ? { type: "fixed" as const, delay_ms: 1_000 }
        : deps.defaults.backoff;
    return backoffDelayMs(fallback, attempt, error, deps.random);
  }
}

async function deadLetterAttempt(
  deps: SettleDeps,
  attempt: Attempt,
  reason: DeadLetterReason,
  info: TaskErrorInfo,
): Promise<void> {
  const event = eventOf(deps, attempt, "FAILURE");
  event.startedAt = attempt.startedAt;
  event.completedAt = event.at;
  event.durationMs = event.at - attempt.startedAt;
  await deadLetter(deps, attempt.delivery, reason, info, event, attempt.envelope);
}

/**
 * Moves a delivery to its queue's DLQ (durable, then acked) and records FAILURE with the reason.
 * `event` is the FAILURE event without its status fields (for decode errors, a minimal one).
 */
export async function deadLetter(
  deps: SettleDeps,
  delivery: Delivery,
  reason: DeadLetterReason,
  error: TaskErrorInfo,
  event: TaskEvent,
  envelope?: TaskEnvelope,
): Promise<void> {
  const moved = await settleSafely(deps, "dead-letter", event.taskId, () =>
    delivery.deadLetter(reason, error.message),
  );
  if (!moved) return;
  if (envelope !== undefined) deps.unique?.ended(envelope);
  // The caller's event is ours to complete (it was built for this call).
  event.status = "FAILURE";
  event.completedAt ??= deps.now();
  event.error = error;
  event.deadLetterReason = reason;
  deps.tracking.record(event);
  deps.logger.error(
    {
      event: "dead_lettered",
      task_id: event.taskId,
      function_key: event.functionKey,
      attempt: event.attempt,
      run: event.run,
      reason,
      error: error.message,
    },
    "task dead-lettered",
  );
}
