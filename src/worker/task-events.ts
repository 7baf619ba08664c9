import type { TaskEnvelope } from "../core/envelope.js";
import type { TaskStatus } from "../core/status.js";
import type { TaskEvent } from "../tracking/tracking-store.js";

// Tracking events built from an envelope. Every event carries the descriptive fields, because
// tracking is best-effort: the producer's PENDING event may be the one that was dropped, and the
// store fills descriptive fields from whichever event brings them first.

export interface EffectiveLimits {
  maxRetries?: number;
  timeoutMs?: number;
}

export function taskEvent(
  envelope: TaskEnvelope,
  status: TaskStatus,
  at: number,
  limits: EffectiveLimits = {},
): TaskEvent {
  const createdAt = Date.parse(envelope.created_at);
  const maxRetries = envelope.max_retries ?? limits.maxRetries;
  const timeoutMs = envelope.timeout_ms ?? limits.timeoutMs;
  return {
    taskId: envelope.id,
    run: envelope.run,
    attempt: envelope.attempt,
    status,
    at,
    functionKey: envelope.function_key,
    queue: envelope.queue,
    priority: envelope.priority,
    payload: envelope.payload,
    metadata: envelope.metadata,
    ...(Number.isFinite(createdAt) ? { createdAt } : {}),
    ...(maxRetries !== undefined ? { maxRetries } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(envelope.idempotency_key !== undefined ? { idempotencyKey: envelope.idempotency_key } : {}),
  };
}

/** The envelope of a fresh run (requeue): same id and task, run + 1, attempt 0. */
export function nextRun(envelope: TaskEnvelope, now: number): TaskEnvelope {
  return { ...envelope, run: envelope.run + 1, attempt: 0, requeued_at: new Date(now).toISOString() };
}
