import type {
  Broker,
  DeadLetterEntry,
  DeadLetterSelector,
  OutgoingMessage,
} from "../broker/broker.js";
import { decodeEnvelope, encodeEnvelope, type TaskEnvelope } from "../core/envelope.js";
import { GoTaskQError, NotFoundError } from "../core/errors.js";
import { parseTaskId } from "../core/ids.js";
import { DEFAULT_PRIORITY, DEFAULT_QUEUE, QUEUE_PATTERN } from "../core/submission.js";
import type { Logger } from "../logging/logger.js";
import { nextRun, taskEvent } from "../tasks/task-events.js";
import type { TrackingSink } from "../tracking/tracking-sink.js";
import type { TaskRecord, TrackingStore } from "../tracking/tracking-store.js";

// Requeue: a fresh run of a task that ended in FAILURE (it sits in a DLQ) or CANCELED. The run
// counter goes up and the attempt counter restarts at 0, with the same task id, so the tracking
// record keeps the history and the monotonic merge lets the new run supersede the old one.
// The broker's DLQ copy is preferred (it is exactly what failed); the tracking record's payload
// is the fallback for tasks the DLQ no longer holds (purged, or canceled tasks, which never go
// there). Only callers that may read the tracking store (API, CLI) pass one; workers never do.

export interface RequeuedTask {
  id: string;
  queue: string;
  /** The run this requeue started (previous run + 1). */
  run: number;
  source: "dead_letter_queue" | "tracking";
}

export interface RequeueOptions {
  /** Search only this queue's DLQ (default: every queue the broker knows). */
  queue?: string;
  /** Fallback when no DLQ holds the task: republish from a FAILURE or CANCELED record. */
  fromTracking?: TrackingReader;
}

export interface RequeueDeps {
  broker: Broker;
  tracking: TrackingSink;
  logger: Logger;
  now: () => number;
}

/** All the producer reads of tracking (and only callers allowed to read it pass one). */
export type TrackingReader = Pick<TrackingStore, "get">;

const REQUEUABLE = new Set(["FAILURE", "CANCELED"]);

export async function requeueTask(
  deps: RequeueDeps,
  taskId: string,
  options: RequeueOptions = {},
): Promise<RequeuedTask> {
  const id = parseTaskId(taskId);
  const queues = options.queue !== undefined ? [options.queue] : await deps.broker.queues();
  for (const queue of queues) {
    const [requeued] = await requeueDeadLetters(deps, queue, { ids: [id] });
    if (requeued) return requeued;
  }
  if (!options.fromTracking) {
    throw new GoTaskQError(
      "conflict",
      `task ${id} is not in the dead-letter queue of ${describeQueues(queues)} and no tracking store was given to republish it from; nothing was requeued`,
    );
  }
  const record = await options.fromTracking.get(id);
  if (!record)
    throw new NotFoundError(`no task ${id}: no dead-letter queue and no tracking record holds it`);
  return republishFromRecord(deps, record);
}

/** Requeues the selected DLQ entries of one queue as fresh runs; returns what runs again. */
export async function requeueDeadLetters(
  deps: RequeueDeps,
  queue: string,
  selector: DeadLetterSelector,
): Promise<RequeuedTask[]> {
  const now = deps.now();
  const envelopes = new Map<string, TaskEnvelope>();
  const rewrite = (entry: DeadLetterEntry): OutgoingMessage => {
    const envelope = tryDecode(entry.body);
    // An undecodable body goes back unchanged: a newer worker may read it; if not it returns to
    // the DLQ with `decode_error` again, which is still better than losing it.
    if (!envelope)
      return { id: entry.id, body: entry.body, priority: DEFAULT_PRIORITY, delayMs: 0 };
    const next = nextRun(envelope, now);
    envelopes.set(entry.id, next);
    return { id: entry.id, body: encodeEnvelope(next), priority: next.priority, delayMs: 0 };
  };
  const entries = await deps.broker.deadLetters(queue).requeue(selector, rewrite);
  return entries.map((entry) => {
    const envelope = envelopes.get(entry.id);
    if (envelope) deps.tracking.record(taskEvent(envelope, "PENDING", now));
    logRequeued(deps.logger, entry.id, envelope, "dead_letter_queue");
    return { id: entry.id, queue, run: envelope?.run ?? 0, source: "dead_letter_queue" as const };
  });
}

async function republishFromRecord(deps: RequeueDeps, record: TaskRecord): Promise<RequeuedTask> {
  if (!REQUEUABLE.has(record.status)) {
    throw new GoTaskQError(
      "conflict",
      `task ${record.id} is ${record.status}; only FAILURE or CANCELED tasks can be requeued`,
    );
  }
  if (record.functionKey === null || record.payload === undefined) {
    throw new GoTaskQError(
      "conflict",
      `task ${record.id} is not in any dead-letter queue and its tracking record has no payload to republish; nothing was requeued`,
    );
  }
  const now = deps.now();
  const envelope = envelopeFromRecord(record, record.functionKey, now);
  await deps.broker.publish(envelope.queue, [
    { id: envelope.id, body: encodeEnvelope(envelope), priority: envelope.priority, delayMs: 0 },
  ]);
  deps.tracking.record(taskEvent(envelope, "PENDING", now));
  logRequeued(deps.logger, envelope.id, envelope, "tracking");
  return { id: envelope.id, queue: envelope.queue, run: envelope.run, source: "tracking" };
}

// The record keeps no backoff policy: the new run uses the worker's default for the function.
function envelopeFromRecord(record: TaskRecord, functionKey: string, now: number): TaskEnvelope {
  const queue =
    record.queue !== null && QUEUE_PATTERN.test(record.queue) ? record.queue : DEFAULT_QUEUE;
  return {
    v: 1,
    id: record.id,
    function_key: functionKey,
    payload: record.payload,
    queue,
    priority: record.priority ?? DEFAULT_PRIORITY,
    attempt: 0,
    run: record.run + 1,
    ...(record.maxRetries !== null ? { max_retries: record.maxRetries } : {}),
    ...(record.timeoutMs !== null ? { timeout_ms: record.timeoutMs } : {}),
    created_at: record.createdAt ?? new Date(now).toISOString(),
    requeued_at: new Date(now).toISOString(),
    metadata: { ...record.metadata },
    ...(record.idempotencyKey !== null ? { idempotency_key: record.idempotencyKey } : {}),
  };
}

function tryDecode(body: Uint8Array): TaskEnvelope | undefined {
  try {
    return decodeEnvelope(body);
  } catch {
    return undefined;
  }
}

function describeQueues(queues: readonly string[]): string {
  if (queues.length === 0) return "any queue (the broker knows none)";
  if (queues.length === 1) return `queue ${JSON.stringify(queues[0])}`;
  return `any of the queues ${queues.map((q) => JSON.stringify(q)).join(", ")}`;
}

function logRequeued(
  logger: Logger,
  id: string,
  envelope: TaskEnvelope | undefined,
  source: RequeuedTask["source"],
): void {
  logger.info(
    {
      event: "requeued",
      task_id: id,
      function_key: envelope?.function_key,
      attempt: envelope?.attempt ?? 0,
      run: envelope?.run,
      source,
    },
    "task requeued",
  );
}
