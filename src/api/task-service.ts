import type { Broker, QueueStats } from "../broker/broker.js";
import { type ErrorCode, GoTaskQError, NotFoundError } from "../core/errors.js";
import { parseTaskId } from "../core/ids.js";
import { isFinalStatus } from "../core/status.js";
import { DEFAULT_PRIORITY } from "../core/submission.js";
import type { Logger } from "../logging/logger.js";
import type { BatchItemResult, Producer, SubmittedTask } from "../producer/producer.js";
import type { RequeuedTask } from "../producer/requeue.js";
import {
  DEFAULT_TASK_MAX_RETRIES,
  DEFAULT_TASK_TIMEOUT_MS,
  type TaskRegistry,
} from "../tasks/registry.js";
import type {
  TaskLogLine,
  TaskPage,
  TaskQuery,
  TaskRecord,
  TaskUpdatesQuery,
  TrackingStore,
  WorkerHeartbeat,
} from "../tracking/tracking-store.js";
import { type DeadLetterView, deadLetterView } from "./dead-letter-view.js";
import type { LiveFunctions } from "./live-functions.js";
import {
  decodeBatch,
  decodeDeadLetterQuery,
  decodeListQuery,
  decodeLogsQuery,
  decodeRequeueOptions,
  decodeSelector,
  queueNameOf,
} from "./service-input.js";
import { type WatchOptions, watchTask } from "./task-watch.js";
import { decodeWindow, type QueueThroughput, queueThroughput } from "./throughput.js";

// The one transport-agnostic API service (issue 3): REST, gRPC and a remote CLI all call these
// operations, and transports only translate (wire shapes, statuses via error-status.ts). Inputs
// are `unknown` and decoded here, so every transport refuses the same things with the same
// messages. Errors are GoTaskQErrors whose message says what to change.
//
// Writes go through the Producer (the only way into the broker), which is also the one validator
// of a submission: with a registry it refuses unknown function keys (UnknownFunctionError → 422)
// and payloads their schema rejects, before anything is enqueued. Give the Producer the registry
// the service lists under functions(); without one, any well-formed key is accepted. Reads of
// task state come from the tracking store (eventually consistent: a task submitted a moment ago
// may not be there yet). Every operation reports bad input by rejecting, never by throwing
// synchronously.

export type { DeadLetterView } from "./dead-letter-view.js";

export interface TaskServiceDeps {
  producer: Producer;
  broker: Broker;
  /** Read side of tracking (get, list, logs, workers, and the requeue/cancel fallbacks). */
  tracking: TrackingStore;
  /** What functions() lists; give the Producer the same one, as it refuses unknown keys. */
  registry?: TaskRegistry;
  /**
   * The keys live workers announce, when the Producer accepts them besides the registry's
   * (`otherFunctions`): functions() lists them too, and a submission of a key nobody is known to
   * run waits out the server's start-up window before it is decided (see live-functions.ts).
   */
  liveFunctions?: LiveFunctions;
  /**
   * The tracking writer of this process's Producer: what it has not written yet answers a read
   * that missed the store, so a client reads its submission at once (see get()).
   */
  unwritten?: { unwrittenRecord(taskId: string): TaskRecord | undefined };
  logger: Logger;
  now?: () => number;
  /** WatchTask polling (see task-watch.ts); defaults 150 ms poll, 5 s until not_found. */
  watch?: Omit<WatchOptions, "now">;
}

/** One item of a batch answer; an error carries the item's position in the request. */
export type BatchItemView =
  | { id: string; status: "PENDING"; duplicate: boolean }
  | { error: { code: ErrorCode; message: string; index: number } };

export interface FunctionView {
  key: string;
  queue?: string;
  description?: string;
  /** The payload's JSON Schema, when the function declares one. */
  schema?: unknown;
  /** Defaults a submission without these fields gets (known with a registry only). */
  priority?: number;
  timeoutMs?: number;
  maxRetries?: number;
}

/** Heartbeats within this window count as live workers. */
export const LIVE_WORKER_WINDOW_MS = 60_000;

export class TaskService {
  readonly #producer: Producer;
  readonly #broker: Broker;
  readonly #tracking: TrackingStore;
  readonly #registry: TaskRegistry | undefined;
  readonly #live: LiveFunctions | undefined;
  readonly #unwritten: TaskServiceDeps["unwritten"];
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #watch: Omit<WatchOptions, "now">;
  /** Largest accepted payload (bytes): the producer's effective limit. */
  readonly maxPayloadBytes: number;

  constructor(deps: TaskServiceDeps) {
    this.#producer = deps.producer;
    this.#broker = deps.broker;
    this.#tracking = deps.tracking;
    this.#registry = deps.registry;
    this.#live = deps.liveFunctions;
    this.#unwritten = deps.unwritten;
    this.#logger = deps.logger;
    this.#now = deps.now ?? Date.now;
    this.#watch = deps.watch ?? {};
    this.maxPayloadBytes = deps.producer.maxPayloadBytes;
  }

  /**
   * Validates (in the Producer) and enqueues one task; resolves once the broker holds it, or
   * with the existing task marked `duplicate` (idempotency key or unique key).
   */
  async submit(input: unknown): Promise<SubmittedTask> {
    await this.#settle([input]);
    return this.#producer.submit(input);
  }

  /** `{tasks:[…]}` (1–1000): each item validated and answered on its own, in order. */
  async submitBatch(input: unknown): Promise<{ results: BatchItemView[] }> {
    const items = decodeBatch(input);
    await this.#settle(items);
    const outcomes = await this.#producer.submitBatch(items);
    return { results: outcomes.map(batchItemView) };
  }

  /**
   * The tracked record; for a task this process accepted whose events are not written yet, the
   * record they make ("read your submission": a 202 is followed by a 200 PENDING, not a 404).
   * The writer is asked first: a batch written between the two reads is then in one of them.
   */
  async get(rawId: unknown): Promise<TaskRecord> {
    const id = parseTaskId(rawId);
    const unwritten = this.#unwritten?.unwrittenRecord(id);
    let record: TaskRecord | undefined;
    try {
      record = await this.#tracking.get(id);
    } catch (error) {
      // The store is unreachable: what this process still holds is the best answer there is.
      if (unwritten) return unwritten;
      throw error;
    }
    const found = record ?? unwritten;
    if (!found) throw notTracked(id);
    return found;
  }

  /** The store's record, else the one this process's unwritten events make (asked first, as get()). */
  async #storedOrUnwritten(id: string): Promise<TaskRecord | undefined> {
    const unwritten = this.#unwritten?.unwrittenRecord(id);
    return (await this.#tracking.get(id)) ?? unwritten;
  }

  /** The list query's filters, decoded as list() decodes them (for the live event stream). */
  async decodeListQuery(query: unknown): Promise<TaskQuery> {
    return decodeListQuery(query);
  }

  async list(query: unknown): Promise<TaskPage> {
    return this.#tracking.list(decodeListQuery(query));
  }

  async logs(rawId: unknown, query?: unknown): Promise<TaskLogLine[]> {
    const id = parseTaskId(rawId);
    return this.#tracking.logs(id, decodeLogsQuery(query));
  }

  /**
   * Revokes a queued or running task through the broker. Refused (conflict) when the tracking
   * store already shows a final status; accepted when it does not know the task yet (tracking
   * lags behind submission) or cannot be read (it is best-effort: the revoke still goes out).
   */
  async cancel(rawId: unknown): Promise<{ id: string; status: "CANCEL_REQUESTED" }> {
    const id = parseTaskId(rawId);
    const record = await this.#tracking.get(id).catch((error: unknown) => {
      this.#logger.warn({ err: error, task_id: id }, "tracking unreadable before a cancel");
      return undefined;
    });
    if (record && isFinalStatus(record.status)) {
      // The hint agrees with requeue, which takes FAILURE and CANCELED only (producer/requeue.ts).
      const again =
        record.status === "SUCCESS"
          ? "only FAILURE or CANCELED tasks can be requeued: submit it again to run it again"
          : "requeue it to run it again";
      throw new GoTaskQError(
        "conflict",
        `task ${id} already ended with ${record.status}; nothing to cancel (${again})`,
      );
    }
    await this.#producer.cancel(id, { fromTracking: this.#tracking });
    return { id, status: "CANCEL_REQUESTED" };
  }

  /** A fresh run of a FAILURE or CANCELED task: from its DLQ copy, else its tracked payload. */
  async requeue(rawId: unknown, options?: unknown): Promise<RequeuedTask> {
    const id = parseTaskId(rawId);
    return this.#producer.requeue(id, {
      ...decodeRequeueOptions(options),
      // What get() answers: a task canceled a moment ago may not be written yet, yet GET shows it.
      fromTracking: { get: (taskId) => this.#storedOrUnwritten(taskId) },
    });
  }

  async queues(): Promise<QueueStats[]> {
    const names = await this.#broker.queues();
    return Promise.all(names.map((name) => this.#broker.stats(name)));
  }

  async deadLetters(
    rawQueue: unknown,
    query?: unknown,
  ): Promise<{ entries: DeadLetterView[]; nextCursor?: string }> {
    const queue = queueNameOf(rawQueue);
    const page = await this.#broker.deadLetters(queue).list(decodeDeadLetterQuery(query));
    return {
      entries: page.entries.map(deadLetterView),
      ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor } : {}),
    };
  }

  /** `{ids:[…]}`, `{reason}` or `{all:true}`; answers what runs again. */
  async requeueDeadLetters(
    rawQueue: unknown,
    selector: unknown,
  ): Promise<{ requeued: RequeuedTask[] }> {
    const queue = queueNameOf(rawQueue);
    const requeued = await this.#producer.requeueDeadLetters(queue, decodeSelector(selector));
    return { requeued };
  }

  /** Workers whose last heartbeat is within the last 60 s (stopped ones carry stoppedAt). */
  async workers(): Promise<WorkerHeartbeat[]> {
    return this.#tracking.workers({ seenSince: this.#now() - LIVE_WORKER_WINDOW_MS });
  }

  /**
   * The registry's functions when known, then the other keys live workers announce on the
   * broker (key only: their schema and defaults are theirs); without a registry, the keys of
   * the live workers' heartbeats.
   */
  async functions(): Promise<FunctionView[]> {
    if (this.#registry) {
      const registry = this.#registry;
      const others = (this.#live?.keys() ?? []).filter((key) => !registry.has(key));
      const own = registry.describe().map((f) => ({
        key: f.key,
        queue: f.queue,
        priority: DEFAULT_PRIORITY,
        timeoutMs: f.timeoutMs ?? DEFAULT_TASK_TIMEOUT_MS,
        maxRetries: f.maxRetries ?? DEFAULT_TASK_MAX_RETRIES,
        ...(f.description !== undefined ? { description: f.description } : {}),
        ...(f.schema !== undefined ? { schema: f.schema } : {}),
      }));
      return [...own, ...others.map((key) => ({ key }))];
    }
    const live = (await this.workers()).filter((w) => w.stoppedAt === undefined);
    const keys = new Set(live.flatMap((w) => w.functions));
    return [...keys].sort().map((key) => ({ key }));
  }

  /** Finished tasks per queue per minute over `{window}` (default 1h), from the tracking store. */
  async throughput(query: unknown): Promise<QueueThroughput[]> {
    return queueThroughput(this.#tracking, decodeWindow(query), this.#now());
  }

  /** Tracked records by latest change, oldest first: what the live event feed polls. */
  async updates(query: TaskUpdatesQuery): Promise<TaskRecord[]> {
    return this.#tracking.updates(query);
  }

  /** In the start-up window: waits until live workers announced the submissions' keys, or it ends. */
  async #settle(items: readonly unknown[]): Promise<void> {
    const live = this.#live;
    const registry = this.#registry;
    // Not an array: the Producer refuses it with its own message.
    if (!live || !registry || !Array.isArray(items)) return;
    const keys = items.flatMap((item) => {
      const key = (item as { function_key?: unknown } | null)?.function_key;
      return typeof key === "string" ? [key] : [];
    });
    await live.settle(keys, (key) => registry.has(key));
  }

  /** Resolves when the broker answers; rejects with `unavailable` otherwise. */
  async ready(): Promise<void> {
    return this.#broker.ping();
  }

  /** Status changes of one task until a final status (see task-watch.ts). */
  watch(rawId: unknown, signal: AbortSignal): AsyncIterable<TaskRecord> {
    return watchTask(this.#tracking, rawId, signal, { ...this.#watch, now: this.#now });
  }
}

function notTracked(id: string): NotFoundError {
  return new NotFoundError(
    `no task ${id} in the tracking store; check the id (a task appears there within moments of its submission, and records are purged after the retention period)`,
  );
}

function batchItemView(outcome: BatchItemResult): BatchItemView {
  if (outcome.ok)
    return { id: outcome.task.id, status: "PENDING", duplicate: outcome.task.duplicate };
  const { index, error } = outcome;
  return { error: { code: error.code, message: error.message, index } };
}
