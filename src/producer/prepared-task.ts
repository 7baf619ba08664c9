import type { OutgoingMessage } from "../broker/broker.js";
import { encodeEnvelope, type TaskEnvelope } from "../core/envelope.js";
import { InvalidArgumentError } from "../core/errors.js";
import { newTaskId } from "../core/ids.js";
import type { ValidSubmission } from "../core/submission.js";
import type { TaskOptions } from "../tasks/registry.js";
import { taskEvent } from "../tasks/task-events.js";
import type { TaskEvent } from "../tracking/tracking-store.js";

// A validated submission turned into everything its acceptance needs: the envelope (run 0,
// attempt 0, a fresh time-ordered id), the broker message, the PENDING event and the answer to
// the caller. Built before publishing, so a task the broker would refuse as too large is
// refused here with a message that says what to shrink.

/** What a caller learns about an accepted submission (wire names, like the REST answer). */
export interface SubmittedTask {
  id: string;
  status: "PENDING";
  function_key: string;
  queue: string;
  priority: number;
  run: 0;
  attempt: 0;
  created_at: string;
  /** Present for delayed submissions: when the task becomes due. */
  run_at?: string;
  /**
   * True when nothing was enqueued because an earlier submission already was: the same
   * idempotency key, or a unique task holding the same key. `id` is then that task's.
   */
  duplicate: boolean;
}

export interface PreparedTask {
  envelope: TaskEnvelope;
  message: OutgoingMessage;
  event: TaskEvent;
  task: SubmittedTask;
}

export interface PrepareContext {
  now: number;
  broker: { kind: string; limits: { maxMessageBytes: number; maxHoldMs?: number } };
  /** The function's registry options, when the producer knows the registry. */
  defaults?: Readonly<TaskOptions>;
  /** The task id to use instead of a fresh one (taking over an abandoned idempotency claim). */
  id?: string;
  /** The unique key the task holds (see TaskEnvelope.unique). */
  unique?: TaskEnvelope["unique"];
}

export function prepareTask(valid: ValidSubmission, ctx: PrepareContext): PreparedTask {
  const envelope = envelopeOf(valid, ctx.now, ctx.id ?? newTaskId());
  if (ctx.unique !== undefined) envelope.unique = ctx.unique;
  const body = encodeEnvelope(envelope);
  const { maxMessageBytes } = ctx.broker.limits;
  if (body.byteLength > maxMessageBytes) {
    throw new InvalidArgumentError(
      `the task encodes to ${body.byteLength} bytes; the ${ctx.broker.kind} broker accepts at most ${maxMessageBytes} (shrink the payload or metadata)`,
    );
  }
  const { maxHoldMs } = ctx.broker.limits;
  if (maxHoldMs !== undefined && valid.timeout_ms !== undefined && valid.timeout_ms >= maxHoldMs) {
    throw new InvalidArgumentError(
      `timeout_ms ${valid.timeout_ms} is not below the ${ctx.broker.kind} broker's limit of ${maxHoldMs} ms for holding a task (RabbitMQ consumer_timeout): the broker would take the task back while it runs. Lower timeout_ms, or raise consumer_timeout on the broker and consumer_timeout_ms in GOTASKQ_BROKER_URL`,
    );
  }
  const runAt = valid.delay_ms > 0 ? ctx.now + valid.delay_ms : undefined;
  const event: TaskEvent = taskEvent(envelope, "PENDING", ctx.now, ctx.defaults);
  if (runAt !== undefined) event.runAt = runAt;
  const task: SubmittedTask = {
    id: envelope.id,
    status: "PENDING",
    function_key: envelope.function_key,
    queue: envelope.queue,
    priority: envelope.priority,
    run: 0,
    attempt: 0,
    created_at: envelope.created_at,
    ...(runAt !== undefined ? { run_at: new Date(runAt).toISOString() } : {}),
    duplicate: false,
  };
  const message = { id: envelope.id, body, priority: envelope.priority, delayMs: valid.delay_ms };
  return { envelope, message, event, task };
}

function envelopeOf(valid: ValidSubmission, now: number, id: string): TaskEnvelope {
  return {
    v: 1,
    id,
    function_key: valid.function_key,
    payload: valid.payload,
    queue: valid.queue,
    priority: valid.priority,
    attempt: 0,
    run: 0,
    ...(valid.max_retries !== undefined ? { max_retries: valid.max_retries } : {}),
    ...(valid.timeout_ms !== undefined ? { timeout_ms: valid.timeout_ms } : {}),
    ...(valid.backoff !== undefined ? { backoff: valid.backoff } : {}),
    created_at: new Date(now).toISOString(),
    metadata: valid.metadata,
    ...(valid.idempotency_key !== undefined ? { idempotency_key: valid.idempotency_key } : {}),
  };
}
