import { InvalidArgumentError } from "../core/errors.js";
import type { Logger } from "../logging/logger.js";

// The best-effort writer's settings: one documented type, defaults applied in one pure function.

export interface BestEffortWriterOptions {
  /** Store failures and drops are logged here, at most once per `logIntervalMs` each. */
  logger?: Logger;
  /** Task events plus log lines held in memory (one batch in flight comes on top); default 10,000. */
  maxBufferItems?: number;
  /** Buffered events and log lines that start a flush at once (fewer wait for the interval); default 500. */
  batchSize?: number;
  /**
   * Most events and log lines one flush takes while the writer keeps up; default 5,000. A flush
   * takes everything buffered up to this cap, not just `batchSize`: a producer that submits
   * batches of 1,000 records 1,000 events at a time, and a writer taking 500 per flush fell
   * behind until its buffer overflowed. Once more than this is buffered (the writer is behind),
   * a flush takes the whole buffer: larger batches (one transaction each on SQLite) instead of
   * falling further behind. Never below `batchSize`.
   */
  maxFlushItems?: number;
  /** Longest wait before a partial batch is written; default 100 ms. */
  flushIntervalMs?: number;
  /**
   * A STARTED event younger than this when a background flush takes it, whose task has no later
   * event in that flush, waits for the next flush (at most `flushIntervalMs` later); default
   * 20 ms. A task that ends within that time then costs the store one merged row instead of two
   * (its STARTED and its outcome are merged in the batch). 0 turns it off. Explicit `flush()`
   * and `stop()` write everything.
   */
  startedSettleMs?: number;
  /** First retry delay after a failed flush, doubled per failure; default 100 ms. */
  retryBaseMs?: number;
  /** Cap of the retry delay; default 5,000 ms. */
  retryMaxMs?: number;
  /** How long `stop()` keeps flushing before it counts the rest as dropped; default 5,000 ms. */
  stopTimeoutMs?: number;
  /** Minimum interval between two log lines about the same kind of problem; default 30,000 ms. */
  logIntervalMs?: number;
}

export interface BestEffortWriterStats {
  /** Items (events, log lines, heartbeats) the store accepted. */
  written: number;
  /** Items lost: buffer overflow, refused by the store, or still buffered when stop() gave up. */
  dropped: number;
  /** Items buffered or in flight. */
  pending: number;
  /** Failed store calls. */
  failures: number;
  /** The latest failure's message, cleared by the next successful flush. */
  lastError?: string;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) {
    throw new InvalidArgumentError(
      `BestEffortWriter ${name} must be a positive integer (got ${v})`,
    );
  }
  return v;
}

function nonNegativeInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 0) {
    throw new InvalidArgumentError(
      `BestEffortWriter ${name} must be a whole number of ms, 0 or more (got ${v})`,
    );
  }
  return v;
}

export interface ResolvedWriterOptions {
  logger: Logger | undefined;
  maxBufferItems: number;
  batchSize: number;
  maxFlushItems: number;
  flushIntervalMs: number;
  startedSettleMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  stopTimeoutMs: number;
  logIntervalMs: number;
}

export function resolveWriterOptions(options: BestEffortWriterOptions): ResolvedWriterOptions {
  const batchSize = positiveInt("batchSize", options.batchSize, 500);
  return {
    logger: options.logger,
    maxBufferItems: positiveInt("maxBufferItems", options.maxBufferItems, 10_000),
    batchSize,
    maxFlushItems: Math.max(batchSize, positiveInt("maxFlushItems", options.maxFlushItems, 5_000)),
    flushIntervalMs: positiveInt("flushIntervalMs", options.flushIntervalMs, 100),
    startedSettleMs: nonNegativeInt("startedSettleMs", options.startedSettleMs, 20),
    retryBaseMs: positiveInt("retryBaseMs", options.retryBaseMs, 100),
    retryMaxMs: positiveInt("retryMaxMs", options.retryMaxMs, 5_000),
    stopTimeoutMs: positiveInt("stopTimeoutMs", options.stopTimeoutMs, 5_000),
    logIntervalMs: positiveInt("logIntervalMs", options.logIntervalMs, 30_000),
  };
}
