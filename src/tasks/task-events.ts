import type { TaskEnvelope } from "../core/envelope.js";
import type { TaskStatus } from "../core/status.js";
import type { Logger } from "../logging/logger.js";
import type { TrackingSink } from "../tracking/tracking-sink.js";
import type { TaskEvent, TaskLogLine, WorkerHeartbeat } from "../tracking/tracking-store.js";

// Tracking events built from an envelope. Every event carries the descriptive fields, because
// tracking is best-effort: the producer's PENDING event may be the one that was dropped, and the
// store fills descriptive fields from whichever event brings them first.

export interface EffectiveLimits {
  maxRetries?: number;
  timeoutMs?: number;
}

// Built as one literal with the optional fields assigned after: on the worker's hot path (two
// events per task) spreading partial objects costs several times more.
export function taskEvent(
  envelope: TaskEnvelope,
  status: TaskStatus,
  at: number,
  limits?: EffectiveLimits,
): TaskEvent {
  const event: TaskEvent = {
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
  };
  const createdAt = Date.parse(envelope.created_at);
  if (Number.isFinite(createdAt)) event.createdAt = createdAt;
  const maxRetries = envelope.max_retries ?? limits?.maxRetries;
  if (maxRetries !== undefined) event.maxRetries = maxRetries;
  const timeoutMs = envelope.timeout_ms ?? limits?.timeoutMs;
  if (timeoutMs !== undefined) event.timeoutMs = timeoutMs;
  if (envelope.idempotency_key !== undefined) event.idempotencyKey = envelope.idempotency_key;
  return event;
}

/** The envelope of a fresh run (requeue): same id and task, run + 1, attempt 0. */
export function nextRun(envelope: TaskEnvelope, now: number): TaskEnvelope {
  return {
    ...envelope,
    run: envelope.run + 1,
    attempt: 0,
    requeued_at: new Date(now).toISOString(),
  };
}

/**
 * A sink that cannot throw into its caller. The TrackingSink contract already says "never
 * throws", but a custom sink that breaks it must not fail an accepted submission or strand a
 * delivery half-settled, so producers and workers wrap whatever they are given.
 */
export function guardedSink(sink: TrackingSink, logger: Logger): TrackingSink {
  const guard =
    <T>(what: string, write: (value: T) => void) =>
    (value: T) => {
      try {
        write(value);
      } catch (error) {
        logger.warn(
          { event: "tracking_error", err: error },
          `tracking sink threw on ${what}; dropped`,
        );
      }
    };
  return {
    get enabled() {
      return sink.enabled !== false;
    },
    record: guard("record", (e: TaskEvent) => sink.record(e)),
    log: guard("log", (l: TaskLogLine) => sink.log(l)),
    heartbeat: guard("heartbeat", (h: WorkerHeartbeat) => sink.heartbeat(h)),
  };
}
