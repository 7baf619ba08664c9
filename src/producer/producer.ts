import type { Broker, DeadLetterSelector } from "../broker/broker.js";
import { GoTaskQError, InvalidArgumentError } from "../core/errors.js";
import { parseTaskId } from "../core/ids.js";
import { type ValidSubmission, validateSubmission } from "../core/submission.js";
import { createLogger, type Logger } from "../logging/logger.js";
import type { TaskOptions, TaskRegistry } from "../tasks/registry.js";
import { guardedSink } from "../tasks/task-events.js";
import { noTracking, type TrackingSink } from "../tracking/tracking-sink.js";
import { type PreparedTask, prepareTask, type SubmittedTask } from "./prepared-task.js";
import {
  type RequeuedTask,
  type RequeueOptions,
  requeueDeadLetters,
  requeueTask,
  type TrackingReader,
} from "./requeue.js";

// The producer: the one way tasks enter the broker (library, CLI, REST and gRPC all go through
// it). A submission is accepted only once the broker confirmed it durably; the tracking event and
// the log line come after, best-effort, and can never fail an accepted submission. Broker errors
// propagate unchanged (`unavailable` → 503 in the API), because a caller must know the task was
// not enqueued.

export const DEFAULT_MAX_PAYLOAD_BYTES = 1_048_576;
/**
 * Bytes reserved for the envelope around the payload when deriving the payload limit from the
 * broker's message limit. Typical envelopes take ~400 bytes; large metadata can take more, which
 * the encoded-size check in prepared-task.ts catches with its own message.
 */
export const ENVELOPE_OVERHEAD_BYTES = 4_096;
export const DEFAULT_MAX_BATCH_SIZE = 1_000;

export interface ProducerOptions {
  broker: Broker;
  /** Where PENDING events go (default: nowhere). */
  tracking?: TrackingSink;
  /** Default: a pino logger on stdout. */
  logger?: Logger;
  /**
   * When given, unknown function keys (UnknownFunctionError) and payloads failing their schema
   * are refused, and a function's own queue applies to submissions that name none.
   */
  registry?: TaskRegistry;
  /** Largest payload accepted (default 1 MiB; never above the broker's limit minus the envelope). */
  maxPayloadBytes?: number;
  /** Most tasks in one `submitBatch` (default 1000). */
  maxBatchSize?: number;
  now?: () => number;
}

export type { SubmittedTask } from "./prepared-task.js";

/** One item's outcome; `index` is its position in the array given to `submitBatch`. */
export type BatchItemResult =
  | { ok: true; index: number; task: SubmittedTask }
  | { ok: false; index: number; error: GoTaskQError };

export class Producer {
  private readonly broker: Broker;
  private readonly tracking: TrackingSink;
  private readonly logger: Logger;
  private readonly registry: TaskRegistry | undefined;
  private readonly now: () => number;
  private readonly maxBatchSize: number;
  /** The effective payload limit: min(configured, broker limit − envelope overhead). */
  readonly maxPayloadBytes: number;

  constructor(options: ProducerOptions) {
    this.broker = options.broker;
    this.logger = options.logger ?? createLogger();
    this.tracking = guardedSink(options.tracking ?? noTracking, this.logger);
    this.registry = options.registry;
    this.now = options.now ?? Date.now;
    this.maxBatchSize = options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
    this.maxPayloadBytes = Math.min(
      options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
      this.broker.limits.maxMessageBytes - ENVELOPE_OVERHEAD_BYTES,
    );
  }

  /** Validates and publishes one task; resolves once the broker holds it durably. */
  async submit(submission: unknown): Promise<SubmittedTask> {
    const prepared = this.prepare(submission);
    await this.broker.publish(prepared.envelope.queue, [prepared.message]);
    this.accepted(prepared);
    return prepared.task;
  }

  /**
   * Validates every item and publishes the valid ones, one broker publish per queue. Results are
   * per item, in order, each carrying its item's index: an invalid item does not stop the others.
   * An item that is a GoTaskQError stands for one its transport could not decode (gRPC
   * payload_json that is not JSON) and is answered with that error in its place. When the broker
   * fails and nothing at all was enqueued, the broker error is thrown (the whole request failed,
   * e.g. 503); otherwise the items of a failed publish carry that error.
   */
  async submitBatch(items: readonly unknown[]): Promise<BatchItemResult[]> {
    if (!Array.isArray(items)) {
      throw new InvalidArgumentError(
        `tasks must be an array of 1 to ${this.maxBatchSize} task objects, e.g. [{"function_key":"demo.echo"}] (got ${items === null ? "null" : typeof items})`,
      );
    }
    if (items.length === 0 || items.length > this.maxBatchSize) {
      throw new InvalidArgumentError(
        `a batch must hold 1 to ${this.maxBatchSize} tasks (got ${items.length}); split larger batches`,
      );
    }
    const results: BatchItemResult[] = new Array(items.length);
    const byQueue = new Map<string, Array<{ index: number; prepared: PreparedTask }>>();
    items.forEach((item, index) => {
      try {
        if (item instanceof GoTaskQError) throw item;
        const prepared = this.prepare(item);
        const group = byQueue.get(prepared.envelope.queue) ?? [];
        group.push({ index, prepared });
        byQueue.set(prepared.envelope.queue, group);
      } catch (error) {
        results[index] = { ok: false, index, error: asDomainError(error) };
      }
    });
    const failures = await Promise.all(
      [...byQueue].map(([queue, group]) => this.publishGroup(queue, group, results)),
    );
    const published = results.some((r) => r.ok);
    const firstFailure = failures.find((f) => f !== undefined);
    if (firstFailure !== undefined && !published) throw firstFailure;
    return results;
  }

  /**
   * Revokes a task through the broker's control channel: a queued task is acked without running
   * when it arrives, a running one sees its signal abort. When a tracking store is given and the
   * task is still PENDING there, CANCELED is recorded at once (a delayed task would otherwise
   * show PENDING until it comes due); the merge keeps a final status reached in the meantime.
   */
  async cancel(taskId: string, options: { fromTracking?: TrackingReader } = {}): Promise<void> {
    const id = parseTaskId(taskId);
    const at = this.now();
    await this.broker.control.broadcast({ type: "revoke", taskId: id, at });
    this.logger.info({ event: "cancel_requested", task_id: id }, "task revoked");
    if (!options.fromTracking) return;
    try {
      const record = await options.fromTracking.get(id);
      if (record?.status === "PENDING") {
        this.tracking.record({
          taskId: id,
          run: record.run,
          attempt: record.attempt,
          status: "CANCELED",
          at,
          completedAt: at,
        });
      }
    } catch (error) {
      // Tracking is best-effort: the revoke is out; the worker records CANCELED when it sees it.
      this.logger.warn(
        { err: error, task_id: id },
        "could not read the tracking record after a cancel",
      );
    }
  }

  /** A fresh run of a FAILURE or CANCELED task (see requeue.ts for where the payload comes from). */
  requeue(taskId: string, options: RequeueOptions = {}): Promise<RequeuedTask> {
    return requeueTask(this.deps(), taskId, options);
  }

  /** Requeues the selected DLQ entries of `queue` (ids, a reason, or all) as fresh runs. */
  requeueDeadLetters(queue: string, selector: DeadLetterSelector): Promise<RequeuedTask[]> {
    return requeueDeadLetters(this.deps(), queue, selector);
  }

  private deps() {
    return { broker: this.broker, tracking: this.tracking, logger: this.logger, now: this.now };
  }

  private async publishGroup(
    queue: string,
    group: Array<{ index: number; prepared: PreparedTask }>,
    results: BatchItemResult[],
  ): Promise<GoTaskQError | undefined> {
    try {
      await this.broker.publish(
        queue,
        group.map((g) => g.prepared.message),
      );
    } catch (error) {
      const failure = asDomainError(error);
      for (const { index } of group) results[index] = { ok: false, index, error: failure };
      return failure;
    }
    for (const { index, prepared } of group) {
      this.accepted(prepared);
      results[index] = { ok: true, index, task: prepared.task };
    }
    return undefined;
  }

  /** The one validation of a submission: its fields, then its function and payload schema. */
  private prepare(input: unknown): PreparedTask {
    const valid = validateSubmission(input, {
      maxPayloadBytes: this.maxPayloadBytes,
      now: this.now,
    });
    const options = this.registry ? functionOptions(this.registry, valid) : undefined;
    const queueGiven = (input as Record<string, unknown>).queue != null;
    const queue = queueGiven ? valid.queue : (options?.queue ?? valid.queue);
    return prepareTask(
      { ...valid, queue },
      { now: this.now(), broker: this.broker, ...(options ? { defaults: options } : {}) },
    );
  }

  private accepted({ envelope, event }: PreparedTask): void {
    this.tracking.record(event);
    this.logger.info(
      {
        event: "submitted",
        task_id: envelope.id,
        function_key: envelope.function_key,
        attempt: 0,
        queue: envelope.queue,
        ...(event.runAt !== undefined ? { run_at: new Date(event.runAt).toISOString() } : {}),
      },
      "task submitted",
    );
  }
}

/**
 * The function's options; throws UnknownFunctionError (422) for a key the registry does not
 * know, InvalidArgumentError for a payload its schema refuses.
 */
function functionOptions(registry: TaskRegistry, valid: ValidSubmission): Readonly<TaskOptions> {
  registry.validatePayload(valid.function_key, valid.payload);
  return registry.require(valid.function_key).options;
}

function asDomainError(error: unknown): GoTaskQError {
  if (error instanceof GoTaskQError) return error;
  return new GoTaskQError("internal", error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}
