import type { Broker, DeadLetterSelector } from "../broker/broker.js";
import type { CoordinationStore } from "../coordination/coordination-store.js";
import {
  GoTaskQError,
  IdempotencyKeyReusedError,
  InvalidArgumentError,
  UnavailableError,
  UnknownFunctionError,
} from "../core/errors.js";
import { parseTaskId } from "../core/ids.js";
import { type ValidSubmission, validateSubmission } from "../core/submission.js";
import { checkUnique, DEFAULT_IDEMPOTENCY_TTL_MS } from "../core/submission-fields.js";
import {
  submissionFingerprint,
  type UniqueOption,
  uniqueKeyOf,
} from "../core/submission-identity.js";
import { createLogger, type Logger } from "../logging/logger.js";
import type { TaskOptions, TaskRegistry } from "../tasks/registry.js";
import { guardedSink } from "../tasks/task-events.js";
import { noTracking, type TrackingSink } from "../tracking/tracking-sink.js";
import {
  applySettlements,
  type ClaimContext,
  type ClaimTiming,
  claimIdempotencyKeys,
  claimTiming,
  claimUniqueKeys,
  type IdempotencyRequest,
  type ItemOutcome,
  type Settlement,
  type UniqueRequest,
  type Won,
} from "./key-claims.js";
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
//
// A submission with an idempotency key or a unique key first takes that key in the coordination
// store (key-claims.ts); one that finds it taken answers the task that holds it, marked
// `duplicate`, and enqueues nothing. Submissions with neither never touch the store.

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
  /**
   * With `registry`: keys it lacks that are accepted anyway (the API server passes the keys live
   * workers announce, src/api/live-functions.ts). Such a submission is published as without a
   * registry: no payload schema check, no function defaults. Default none.
   */
  otherFunctions?: OtherFunctions;
  /** Largest payload accepted (default 1 MiB; never above the broker's limit minus the envelope). */
  maxPayloadBytes?: number;
  /** Most tasks in one `submitBatch` (default 1000). */
  maxBatchSize?: number;
  now?: () => number;
  /**
   * The coordination store idempotency keys and unique tasks are taken in: a store, or a getter
   * that opens one on first use. Default none: such submissions are refused with `unavailable`.
   */
  coordination?: CoordinationStore | (() => Promise<CoordinationStore>);
  /** Pending-claim timings (tests shorten them); see key-claims.ts. */
  claimTiming?: Partial<ClaimTiming>;
  /**
   * Test-only fault injection: awaited after a submission's keys are claimed and before it is
   * published (the window a crash test kills the process in). Leave unset in production.
   */
  afterClaimForTests?: (taskId: string) => Promise<void>;
}

export type { SubmittedTask } from "./prepared-task.js";

/** Library-only options of `submit` (not on the wire). */
export interface SubmitOptions {
  /**
   * The task's id instead of a fresh one: a caller whose submissions have an identity of their
   * own (the scheduler's ticks, see core/ids.ts derivedTaskId) so every copy names one task.
   * With an idempotency key, the key's first claim decides the id, as always.
   */
  id?: string;
}

/** Function keys run elsewhere than the producer's registry (see ProducerOptions). */
export interface OtherFunctions {
  /** Whether `functionKey` is accepted on `queue`. */
  runs(functionKey: string, queue: string): boolean;
  /** The message of the UnknownFunctionError when it is not (`registered`: the registry's keys). */
  refusal(functionKey: string, queue: string, registered: readonly string[]): string;
}

/** One item's outcome; `index` is its position in the array given to `submitBatch`. */
export type BatchItemResult =
  | { ok: true; index: number; task: SubmittedTask }
  | { ok: false; index: number; error: GoTaskQError };

type IdempotencyKey = Omit<IdempotencyRequest, "task">;
type UniqueKey = Omit<UniqueRequest, "task">;

/** The keys a submission takes before it is published; both absent for most submissions. */
interface Identity {
  idempotency?: IdempotencyKey;
  unique?: UniqueKey;
}

interface Planned {
  index: number;
  prepared: PreparedTask;
  identity: Identity;
  /** The same task under another id (taking over an abandoned idempotency claim). */
  withId(id: string): PreparedTask;
}

/** One submission while its keys are taken (admitAll). */
interface Admitting {
  planned: Planned;
  /** Its task; another id when it took over an abandoned idempotency claim. */
  prepared: PreparedTask;
  idempotency?: Won;
  unique?: Won;
  /** Set once it is a duplicate or failed: it takes no further key. */
  decided?: Admission;
}

/**
 * What taking the keys decided: publish (then write the claims' settlements), answer a
 * duplicate, or fail this item.
 */
type Admission =
  | { index: number; publish: PreparedTask; settle(published: boolean): Settlement[] }
  | { index: number; duplicate: SubmittedTask; reason: "idempotency_key" | "unique" }
  | { index: number; error: unknown };

export class Producer {
  private readonly broker: Broker;
  private readonly tracking: TrackingSink;
  private readonly logger: Logger;
  private readonly registry: TaskRegistry | undefined;
  private readonly otherFunctions: OtherFunctions | undefined;
  private readonly now: () => number;
  private readonly maxBatchSize: number;
  private readonly coordination: ProducerOptions["coordination"];
  private readonly claimTiming: ClaimTiming;
  private readonly afterClaim: ((taskId: string) => Promise<void>) | undefined;
  /** The effective payload limit: min(configured, broker limit − envelope overhead). */
  readonly maxPayloadBytes: number;

  constructor(options: ProducerOptions) {
    this.broker = options.broker;
    this.logger = options.logger ?? createLogger();
    this.tracking = guardedSink(options.tracking ?? noTracking, this.logger);
    this.registry = options.registry;
    this.otherFunctions = options.otherFunctions;
    this.now = options.now ?? Date.now;
    this.maxBatchSize = options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
    this.coordination = options.coordination;
    this.claimTiming = claimTiming(options.claimTiming);
    this.afterClaim = options.afterClaimForTests;
    this.maxPayloadBytes = Math.min(
      options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
      this.broker.limits.maxMessageBytes - ENVELOPE_OVERHEAD_BYTES,
    );
  }

  /**
   * Validates and publishes one task; resolves once the broker holds it durably, or with the
   * task already holding its idempotency or unique key (`duplicate: true`, nothing enqueued).
   */
  async submit(submission: unknown, options: SubmitOptions = {}): Promise<SubmittedTask> {
    const planned = this.plan(submission, 0, options.id);
    if (!planned.identity.idempotency && !planned.identity.unique) {
      const { prepared } = planned;
      await this.broker.publish(prepared.envelope.queue, [prepared.message]);
      this.accepted(prepared);
      return prepared.task;
    }
    const { admissions, ctx } = await this.admitAll([planned]);
    const admission = admissions[0] as Admission;
    if ("error" in admission) throw admission.error;
    if ("duplicate" in admission) return admission.duplicate;
    const prepared = admission.publish;
    try {
      await this.broker.publish(prepared.envelope.queue, [prepared.message]);
    } catch (error) {
      await this.settleQuietly(ctx, admission.settle(false), false);
      throw error;
    }
    await this.settleQuietly(ctx, admission.settle(true), true);
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
    const plain: Planned[] = [];
    const keyed: Planned[] = [];
    items.forEach((item, index) => {
      try {
        if (item instanceof GoTaskQError) throw item;
        const planned = this.plan(item, index);
        (planned.identity.idempotency || planned.identity.unique ? keyed : plain).push(planned);
      } catch (error) {
        results[index] = { ok: false, index, error: asDomainError(error) };
      }
    });
    const { leaders, followers } = splitRepeatedKeys(keyed, results);
    const { admissions, ctx } =
      leaders.length > 0 ? await this.admitAll(leaders) : { admissions: [], ctx: undefined };
    const toPublish = plain.map((p) => ({ index: p.index, prepared: p.prepared }));
    const settles = new Map<number, (published: boolean) => Settlement[]>();
    for (const admission of admissions) {
      const { index } = admission;
      if ("error" in admission) {
        results[index] = { ok: false, index, error: asDomainError(admission.error) };
      } else if ("duplicate" in admission) {
        results[index] = { ok: true, index, task: admission.duplicate };
      } else {
        toPublish.push({ index, prepared: admission.publish });
        settles.set(index, admission.settle);
      }
    }
    const byQueue = new Map<string, Array<{ index: number; prepared: PreparedTask }>>();
    for (const item of toPublish) {
      const group = byQueue.get(item.prepared.envelope.queue) ?? [];
      group.push(item);
      byQueue.set(item.prepared.envelope.queue, group);
    }
    const failures = await Promise.all(
      [...byQueue].map(([queue, group]) => this.publishGroup(queue, group, results)),
    );
    if (ctx && settles.size > 0) {
      const settlements = [...settles].flatMap(([index, settle]) =>
        settle(results[index]?.ok === true),
      );
      await this.settleQuietly(ctx, settlements, true);
    }
    for (const [index, leader] of followers) {
      const outcome = results[leader];
      results[index] = outcome?.ok
        ? { ok: true, index, task: { ...outcome.task, duplicate: true } }
        : { ok: false, index, error: outcome?.error ?? asDomainError("batch leader missing") };
    }
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

  /**
   * The one validation of a submission (its fields, then its function and payload schema), and
   * the keys it must take before it is published.
   */
  private plan(input: unknown, index: number, id?: string): Planned {
    const checked = validateSubmission(input, {
      maxPayloadBytes: this.maxPayloadBytes,
      now: this.now,
    });
    const options = this.registry
      ? functionOptions(this.registry, checked, this.otherFunctions)
      : undefined;
    const queueGiven = (input as Record<string, unknown>).queue != null;
    const queue = queueGiven ? checked.queue : (options?.queue ?? checked.queue);
    const valid = { ...checked, queue };
    const unique = valid.unique ?? functionUnique(options);
    const uniqueKey = unique ? uniqueKeyOf(valid.function_key, unique, valid) : undefined;
    const now = this.now();
    const build = (id?: string) =>
      prepareTask(valid, {
        now,
        broker: this.broker,
        ...(options ? { defaults: options } : {}),
        ...(id !== undefined ? { id } : {}),
        ...(unique && uniqueKey !== undefined
          ? { unique: { key: uniqueKey, until: unique.until } }
          : {}),
      });
    const identity: Identity = {};
    if (valid.idempotency_key !== undefined) {
      identity.idempotency = {
        key: valid.idempotency_key,
        ttlMs: valid.idempotency_ttl_ms ?? DEFAULT_IDEMPOTENCY_TTL_MS,
        fingerprint: fingerprintOf(valid, unique),
      };
    }
    if (unique && uniqueKey !== undefined) {
      identity.unique = { key: uniqueKey, ttlMs: unique.ttl_ms };
    }
    return { index, prepared: build(id), identity, withId: build };
  }

  private async store(): Promise<CoordinationStore> {
    const given = this.coordination;
    if (given === undefined) {
      throw new UnavailableError(
        "idempotency keys and unique tasks need a coordination store and none is configured: set GOTASKQ_COORDINATION_URL (or pass `coordination` to the Producer)",
      );
    }
    return typeof given === "function" ? given() : given;
  }

  /**
   * Takes the submissions' keys, idempotency keys first, then unique keys, each kind in one
   * batched round trip to the coordination store (key-claims.ts). Answers one admission per
   * planned item, in order, and the claim context the settlements are written with.
   */
  private async admitAll(
    planned: readonly Planned[],
  ): Promise<{ admissions: Admission[]; ctx: ClaimContext }> {
    const ctx: ClaimContext = {
      store: await this.store(),
      timing: this.claimTiming,
      now: this.now,
      warn: (fields, message) => this.logger.warn(fields, message),
    };
    const items: Admitting[] = planned.map((p) => ({ planned: p, prepared: p.prepared }));
    const settleNow: Settlement[] = [];

    const withIdempotency = items.filter((item) => item.planned.identity.idempotency);
    const idempotencyOutcomes = await claimOrFail(withIdempotency, (batch) =>
      claimIdempotencyKeys(
        ctx,
        batch.map(({ planned, prepared }) => ({
          ...(planned.identity.idempotency as IdempotencyKey),
          task: prepared.task,
        })),
      ),
    );
    withIdempotency.forEach((item, n) => {
      const outcome = idempotencyOutcomes[n] as ItemOutcome;
      const { index } = item.planned;
      if (outcome instanceof Error) item.decided = { index, error: outcome };
      else if (!outcome.won) item.decided = this.duplicate(index, outcome.task, "idempotency_key");
      else {
        item.idempotency = outcome;
        if (outcome.id !== item.prepared.envelope.id)
          item.prepared = item.planned.withId(outcome.id);
      }
    });

    const withUnique = items.filter((item) => !item.decided && item.planned.identity.unique);
    const uniqueOutcomes = await claimOrFail(withUnique, (batch) =>
      claimUniqueKeys(
        ctx,
        batch.map(({ planned, prepared }) => ({
          ...(planned.identity.unique as UniqueKey),
          task: prepared.task,
        })),
      ),
    );
    withUnique.forEach((item, n) => {
      const outcome = uniqueOutcomes[n] as ItemOutcome;
      const { index } = item.planned;
      if (outcome instanceof Error) {
        if (item.idempotency) settleNow.push(item.idempotency.settle(false));
        item.decided = { index, error: outcome };
      } else if (!outcome.won) {
        // The idempotency key now answers the task holding the unique key, for its TTL.
        if (item.idempotency) settleNow.push(item.idempotency.settle(true, outcome.task.id));
        item.decided = this.duplicate(index, outcome.task, "unique");
      } else {
        item.unique = outcome;
      }
    });
    if (settleNow.length > 0) await this.settleQuietly(ctx, settleNow, true);

    const admissions: Admission[] = [];
    for (const item of items) {
      if (item.decided) {
        admissions.push(item.decided);
        continue;
      }
      await this.afterClaim?.(item.prepared.envelope.id);
      const held = [item.unique, item.idempotency].filter((w): w is Won => w !== undefined);
      admissions.push({
        index: item.planned.index,
        publish: item.prepared,
        settle: (published) => held.map((w) => w.settle(published)),
      });
    }
    return { admissions, ctx };
  }

  private duplicate(
    index: number,
    task: SubmittedTask,
    reason: "idempotency_key" | "unique",
  ): Admission {
    this.logger.info(
      {
        event: "duplicate_submission",
        task_id: task.id,
        function_key: task.function_key,
        queue: task.queue,
        reason,
      },
      "duplicate submission: answered the existing task, enqueued nothing",
    );
    return { index, duplicate: task, reason };
  }

  /**
   * Writes the claims' settlements. A failure here cannot undo an accepted publish: the pending
   * claims then expire on their own (see key-claims.ts), so it is logged, not thrown.
   */
  private async settleQuietly(
    ctx: ClaimContext,
    settlements: readonly Settlement[],
    published: boolean,
  ): Promise<void> {
    try {
      await applySettlements(ctx, settlements);
    } catch (error) {
      this.logger.warn(
        { event: "claim_settle_failed", err: error, published },
        "could not record a submission's outcome in the coordination store; its pending claim will expire",
      );
    }
  }

  private accepted({ envelope, event }: PreparedTask): void {
    this.tracking.record(event);
    this.logger.info(
      {
        event: "submitted",
        task_id: envelope.id,
        function_key: envelope.function_key,
        attempt: 0,
        run: 0,
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
function functionOptions(
  registry: TaskRegistry,
  valid: ValidSubmission,
  others: OtherFunctions | undefined,
): Readonly<TaskOptions> | undefined {
  const key = valid.function_key;
  if (others && !registry.has(key)) {
    // Run by another worker: its schema and defaults are its own, checked when it runs.
    if (others.runs(key, valid.queue)) return undefined;
    throw new UnknownFunctionError(key, others.refusal(key, valid.queue, registry.keys()));
  }
  registry.validatePayload(valid.function_key, valid.payload);
  return registry.require(valid.function_key).options;
}

/** A function's `unique` option in the wire shape, when it has one. */
function functionUnique(options: Readonly<TaskOptions> | undefined): UniqueOption | undefined {
  const unique = options?.unique;
  if (unique === undefined) return undefined;
  return checkUnique("unique", {
    ...(unique.key !== undefined ? { key: unique.key } : {}),
    ...(unique.until !== undefined ? { until: unique.until } : {}),
    ...(unique.ttlMs !== undefined ? { ttl_ms: unique.ttlMs } : {}),
  });
}

/**
 * What an idempotency key is bound to: everything that decides what runs and how, as the
 * caller asked for it (delay_ms or run_at as given, not as resolved against the clock).
 */
function fingerprintOf(valid: ValidSubmission, unique: UniqueOption | undefined): string {
  return submissionFingerprint({
    function_key: valid.function_key,
    payload: valid.payload,
    queue: valid.queue,
    priority: valid.priority,
    options: {
      timeout_ms: valid.timeout_ms,
      max_retries: valid.max_retries,
      backoff: valid.backoff,
      delay: valid.requested_delay,
      metadata: valid.metadata,
      unique,
    },
  });
}

/**
 * Items of one batch that repeat an earlier item's idempotency key or unique key follow that
 * item (answered with its task, marked duplicate) instead of racing it for the key; one that
 * reuses an idempotency key for a different submission is refused at once.
 */
function splitRepeatedKeys(
  keyed: Planned[],
  results: BatchItemResult[],
): { leaders: Planned[]; followers: Map<number, number> } {
  const leaders: Planned[] = [];
  const followers = new Map<number, number>();
  const byIdempotency = new Map<string, Planned>();
  const byUnique = new Map<string, Planned>();
  for (const planned of keyed) {
    const { idempotency, unique } = planned.identity;
    const first = idempotency ? byIdempotency.get(idempotency.key) : undefined;
    if (idempotency && first) {
      if (first.identity.idempotency?.fingerprint === idempotency.fingerprint) {
        followers.set(planned.index, first.index);
      } else {
        results[planned.index] = {
          ok: false,
          index: planned.index,
          error: new IdempotencyKeyReusedError(
            idempotency.key,
            `idempotency_key ${JSON.stringify(idempotency.key)} is used by item ${first.index} of this batch for a different submission; use a new key for a new submission`,
          ),
        };
      }
      continue;
    }
    const holder = unique ? byUnique.get(unique.key) : undefined;
    if (unique && holder) {
      followers.set(planned.index, holder.index);
      continue;
    }
    if (idempotency) byIdempotency.set(idempotency.key, planned);
    if (unique) byUnique.set(unique.key, planned);
    leaders.push(planned);
  }
  return { leaders, followers };
}

/** Runs one batched claim over `items`; a call that fails as a whole fails each item. */
async function claimOrFail(
  items: readonly Admitting[],
  claim: (items: readonly Admitting[]) => Promise<ItemOutcome[]>,
): Promise<ItemOutcome[]> {
  if (items.length === 0) return [];
  try {
    return await claim(items);
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    return items.map(() => failure);
  }
}

function asDomainError(error: unknown): GoTaskQError {
  if (error instanceof GoTaskQError) return error;
  return new GoTaskQError("internal", error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}
