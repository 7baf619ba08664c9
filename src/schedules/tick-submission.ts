import { derivedTaskId } from "../core/ids.js";
import type { TaskSubmission } from "../core/submission.js";
import {
  SCHEDULE_METADATA_KEY,
  type Schedule,
  TICK_METADATA_KEY,
  TRIGGER_METADATA_KEY,
} from "./schedule.js";

// The task submission of one tick. Everything in it derives from (schedule, tick time), so every
// scheduler process builds the same submission for the same tick: the idempotency key names the
// tick, and the fingerprint the producer binds to that key matches across processes (a process
// that saw an older definition gets `idempotency_key_reused`, which means "already submitted").

export type Trigger = "tick" | "manual";

/** The idempotency key of a tick: the same in every process, unique per (schedule, tick). */
export function tickIdempotencyKey(scheduleId: string, tick: number, trigger: Trigger): string {
  return `schedule:${scheduleId}:${trigger === "manual" ? "manual:" : ""}${tick}`;
}

/**
 * The task id of a tick: derived from (schedule, tick time, trigger), the same in every process,
 * time-ordered by the tick.
 */
export function tickTaskId(scheduleId: string, tick: number, trigger: Trigger): string {
  return derivedTaskId(tick, tickIdempotencyKey(scheduleId, tick, trigger));
}

export function tickSubmission(
  schedule: Schedule,
  tick: number,
  trigger: Trigger,
  idempotencyTtlMs: number,
): TaskSubmission {
  return {
    function_key: schedule.function_key,
    payload: schedule.payload,
    ...(schedule.queue !== undefined ? { queue: schedule.queue } : {}),
    ...(schedule.priority !== undefined ? { priority: schedule.priority } : {}),
    ...(schedule.timeout_ms !== undefined ? { timeout_ms: schedule.timeout_ms } : {}),
    ...(schedule.max_retries !== undefined ? { max_retries: schedule.max_retries } : {}),
    ...(schedule.backoff !== undefined ? { backoff: schedule.backoff } : {}),
    metadata: {
      ...schedule.metadata,
      [SCHEDULE_METADATA_KEY]: schedule.id,
      [TICK_METADATA_KEY]: new Date(tick).toISOString(),
      [TRIGGER_METADATA_KEY]: trigger,
    },
    idempotency_key: tickIdempotencyKey(schedule.id, tick, trigger),
    idempotency_ttl_ms: idempotencyTtlMs,
    // skip_if_running: the schedule's tasks share one unique key held until the task ends, so a
    // tick whose predecessor is still queued or running is answered with that task instead.
    ...(schedule.overlap === "skip_if_running" && trigger === "tick"
      ? { unique: { key: `schedule:${schedule.id}`, until: "finished" as const } }
      : {}),
  };
}
