import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Broker } from "../broker/broker.js";
import {
  type BackoffPolicy,
  type CustomBackoff,
  DEFAULT_BACKOFF,
  parseBackoff,
} from "../core/backoff.js";
import { InvalidArgumentError } from "../core/errors.js";
import {
  DEFAULT_QUEUE,
  MAX_RETRIES_LIMIT,
  MAX_TIMEOUT_MS,
  QUEUE_PATTERN,
} from "../core/submission.js";
import { createLogger, type Logger } from "../logging/logger.js";
import {
  DEFAULT_TASK_MAX_RETRIES,
  DEFAULT_TASK_TIMEOUT_MS,
  type TaskRegistry,
} from "../tasks/registry.js";
import { guardedSink } from "../tasks/task-events.js";
import { noTracking, type TrackingSink } from "../tracking/tracking-sink.js";
import { DEFAULT_MAX_REVOCATIONS, DEFAULT_REVOCATION_TTL_MS } from "./revocations.js";
import type { CoordinationSource } from "./unique-release.js";

// The worker's configuration: one documented type, every default applied in one pure function.
// Per-task values (timeout, retries, backoff) come from the envelope first, then the function's
// registry options, then these worker defaults.

export interface WorkerOptions {
  broker: Broker;
  registry: TaskRegistry;
  /** Where task events, handler log lines and heartbeats go (default: nowhere). */
  tracking?: TrackingSink;
  /** Default: a pino logger on stdout. */
  logger?: Logger;
  /** Queues consumed (default ["default"]). */
  queues?: readonly string[];
  /** Handlers run at once, and the broker prefetch (default 16). */
  concurrency?: number;
  /** How long a delivery stays invisible to others; extended every leaseMs/3 while it runs (default 30 000). */
  leaseMs?: number;
  /** After a timeout or cancel aborts a handler that ignores its signal, ms before its slot is freed (default 5 000). */
  graceMs?: number;
  /** On stop(), ms running tasks get to finish before they are aborted and released (default 30 000). */
  shutdownGraceMs?: number;
  /** Deliveries of one attempt beyond this are dead-lettered as `poison` without running (default 5). */
  maxDeliveries?: number;
  /** Between heartbeats to the tracking store (default 5 000). */
  heartbeatIntervalMs?: number;
  /**
   * Between presence beats on the broker's control channel, which tell other workers this one is
   * alive and what it runs (default 5 000). Peers count it live for 3 intervals; a new worker
   * hands back function keys it does not know for its first 2 intervals. Keep it equal on all
   * workers of a deployment.
   */
  presenceIntervalMs?: number;
  /**
   * Base delay before a task whose function another live worker runs comes back (default
   * 1 000); jittered up to twice that and paced up when this worker hands back many.
   */
  handBackDelayMs?: number;
  /** Per-attempt timeout when neither the submission nor the function sets one (default 30 000). */
  timeoutMs?: number;
  /** Retries when neither the submission nor the function sets them (default 3). */
  maxRetries?: number;
  /** Backoff when neither the submission nor the function sets one (default exponential 1 s…1 h, full jitter). */
  backoff?: BackoffPolicy | CustomBackoff;
  /** Default `${hostname}-${pid}-${random}`. */
  workerId?: string;
  /** How long a revocation is remembered (default 30 days: the longest a delayed task can wait). */
  revocationTtlMs?: number;
  /** Most revocations remembered; the oldest are forgotten first (default 100 000). */
  maxRevocations?: number;
  now?: () => number;
  /** Jitter source for backoff (tests make it deterministic). */
  random?: () => number;
  /**
   * Where unique tasks' keys are released (a store, or a getter that opens one on first use).
   * Touched only for tasks that carry a unique key. Default none: such keys then free
   * themselves when their ttl_ms ends, and each release logs a warning.
   */
  coordination?: CoordinationSource;
}

export type ResolvedWorkerOptions = Required<Omit<WorkerOptions, "queues" | "coordination">> & {
  queues: string[];
  coordination?: CoordinationSource;
};

type NumericOption =
  | "concurrency"
  | "leaseMs"
  | "graceMs"
  | "shutdownGraceMs"
  | "maxDeliveries"
  | "heartbeatIntervalMs"
  | "presenceIntervalMs"
  | "handBackDelayMs"
  | "timeoutMs"
  | "maxRetries"
  | "revocationTtlMs"
  | "maxRevocations";

/** [default, min, max] of every numeric option. */
const NUMERIC: Record<NumericOption, readonly [number, number, number]> = {
  concurrency: [16, 1, 10_000],
  // Below ~30 ms a lease cannot be extended reliably (it is extended every leaseMs/3).
  leaseMs: [30_000, 30, 86_400_000],
  graceMs: [5_000, 0, 3_600_000],
  shutdownGraceMs: [30_000, 0, 86_400_000],
  maxDeliveries: [5, 1, 1_000],
  heartbeatIntervalMs: [5_000, 10, 3_600_000],
  presenceIntervalMs: [5_000, 10, 600_000],
  handBackDelayMs: [1_000, 1, 60_000],
  timeoutMs: [DEFAULT_TASK_TIMEOUT_MS, 1, MAX_TIMEOUT_MS],
  maxRetries: [DEFAULT_TASK_MAX_RETRIES, 0, MAX_RETRIES_LIMIT],
  revocationTtlMs: [DEFAULT_REVOCATION_TTL_MS, 1, 365 * 86_400_000],
  maxRevocations: [DEFAULT_MAX_REVOCATIONS, 1, 10_000_000],
};

function numericOptions(options: WorkerOptions): Record<NumericOption, number> {
  const out = {} as Record<NumericOption, number>;
  for (const [name, [fallback, min, max]] of Object.entries(NUMERIC) as Array<
    [NumericOption, readonly [number, number, number]]
  >) {
    const v = options[name] ?? fallback;
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new InvalidArgumentError(
        `worker option ${name} must be an integer between ${min} and ${max} (got ${v})`,
      );
    }
    out[name] = v;
  }
  return out;
}

function checkedQueues(queues: readonly string[] | undefined): string[] {
  const unique = [...new Set(queues ?? [DEFAULT_QUEUE])];
  if (unique.length === 0) {
    throw new InvalidArgumentError("worker option queues must name at least one queue");
  }
  for (const q of unique) {
    if (!QUEUE_PATTERN.test(q)) {
      throw new InvalidArgumentError(
        `worker queue ${JSON.stringify(q)} must match ${QUEUE_PATTERN}`,
      );
    }
  }
  return unique;
}

export function defaultWorkerId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
}

/**
 * Refuses task timeouts the broker cannot honour: a task held longer than the broker's
 * `maxHoldMs` (RabbitMQ consumer_timeout) is taken back while it runs (RabbitMQ closes the
 * channel with PRECONDITION_FAILED), so it would run twice and its outcome would be lost.
 */
function checkHoldLimit(options: WorkerOptions, numbers: Record<NumericOption, number>): void {
  const limit = options.broker.limits.maxHoldMs;
  if (limit === undefined) return;
  const timeouts: Array<[string, number]> = [["worker option timeoutMs", numbers.timeoutMs]];
  for (const key of options.registry.keys()) {
    const own = options.registry.get(key)?.options.timeoutMs;
    if (own !== undefined) timeouts.push([`timeoutMs of function ${key}`, own]);
  }
  for (const [what, timeoutMs] of timeouts) {
    if (timeoutMs + numbers.graceMs >= limit) {
      throw new InvalidArgumentError(
        `${what} (${timeoutMs} ms) plus graceMs (${numbers.graceMs} ms) must stay below the ${options.broker.kind} broker's limit of ${limit} ms for holding a task (RabbitMQ consumer_timeout), or the broker takes the task back while it runs. Lower the timeout, or raise consumer_timeout on the broker and consumer_timeout_ms in GOTASKQ_BROKER_URL`,
      );
    }
  }
}

export function resolveWorkerOptions(options: WorkerOptions): ResolvedWorkerOptions {
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const logger = options.logger ?? createLogger();
  const numbers = numericOptions(options);
  checkHoldLimit(options, numbers);
  return {
    broker: options.broker,
    registry: options.registry,
    tracking: guardedSink(options.tracking ?? noTracking, logger),
    logger,
    queues: checkedQueues(options.queues),
    ...numbers,
    backoff:
      typeof backoff === "function" ? backoff : parseBackoff(backoff, "worker option backoff"),
    workerId: options.workerId ?? defaultWorkerId(),
    now: options.now ?? Date.now,
    random: options.random ?? Math.random,
    ...(options.coordination !== undefined ? { coordination: options.coordination } : {}),
  };
}
