import { GoTaskQError } from "../core/errors.js";
import { type Service, sleep } from "../core/lifecycle.js";
import {
  type BestEffortWriterOptions,
  type BestEffortWriterStats,
  resolveWriterOptions,
} from "./best-effort-writer-options.js";
import { eventToValues, rowToRecord } from "./records/rows.js";
import type { TaskValues } from "./records/schema.js";
import { mergeTaskValues } from "./sql/merge.js";
import { TrackingBuffer } from "./tracking-buffer.js";
import type { TrackingSink } from "./tracking-sink.js";
import type {
  TaskEvent,
  TaskLogLine,
  TaskRecord,
  TrackingStore,
  WorkerHeartbeat,
} from "./tracking-store.js";
import { WriteProblemReporter } from "./write-problem-reporter.js";

// The TrackingSink that producers and workers write to: it puts the item in memory and returns.
// Tracking is observability only, so it must never slow down, block or fail execution:
// - the buffer is bounded (tracking-buffer.ts says what goes first) and every loss is counted;
// - flushes run in the background, one at a time (a task's events reach the store in the order
//   they were recorded): at once when `batchSize` items are buffered, else after
//   `flushIntervalMs`; each takes everything buffered, up to `maxFlushItems`, so the writer
//   keeps up with a producer that records thousands of events at a time, and the whole buffer
//   once it is behind (batches, and SQLite transactions, sized to the backlog);
// - a STARTED event recorded within `startedSettleMs` of a background flush, with no later
//   event of its task in that flush, waits for the next one: a short task's STARTED and outcome
//   then travel together and the store merges them into one row (without this, a quarter of a
//   busy worker's tasks cost two rows: their STARTED fell in one flush, their SUCCESS in the next);
// - a failed flush is retried with capped, jittered backoff for as long as the store is
//   unavailable; what was buffered meanwhile is written once it returns;
// - a batch the store refuses (reached, but rejects the data: error code other than
//   `unavailable`) is retried item by item, so one bad item is dropped and counted instead of
//   blocking everything behind it forever.
// The writer does not own the store: whoever opened it closes it, after `stop()`.

export type { BestEffortWriterOptions, BestEffortWriterStats };

interface Part<T> {
  items: T[];
  write(items: T[]): Promise<void>;
  putBack(items: T[]): void;
}

/**
 * Takes out of `events` (in place) the STARTED events at or after `since` whose task has no
 * later event among them, and returns them in order: they go back to the front of the buffer,
 * ahead of anything their task records next.
 */
function holdYoungStarts(events: TaskEvent[], since: number): TaskEvent[] {
  const held: TaskEvent[] = [];
  const later = new Set<string>();
  let kept = events.length;
  // From the newest: an event is held only when nothing of its task follows it.
  for (let i = events.length - 1; i >= 0; i -= 1) {
    const event = events[i] as TaskEvent;
    if (event.status === "STARTED" && event.at >= since && !later.has(event.taskId)) {
      held.push(event);
    } else {
      kept -= 1;
      events[kept] = event;
    }
    later.add(event.taskId);
  }
  if (held.length === 0) return held;
  events.splice(0, kept);
  return held.reverse();
}

function isUnavailable(error: unknown): boolean {
  // Only an error that says the data itself was refused is not worth retrying as is.
  return !(error instanceof GoTaskQError) || error.code === "unavailable";
}

export class BestEffortWriter implements TrackingSink, Service {
  readonly #store: TrackingStore;
  readonly #batchSize: number;
  readonly #maxFlushItems: number;
  readonly #maxBufferItems: number;
  readonly #intervalMs: number;
  readonly #settleMs: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #stopTimeoutMs: number;
  readonly #reporter: WriteProblemReporter;
  readonly #buffer: TrackingBuffer;
  /** The events of the batch being written (read by unwrittenRecord). */
  #inFlightEvents: readonly TaskEvent[] = [];
  #inFlight = 0;

  #state: "new" | "running" | "stopping" | "stopped" = "new";
  #stopped: Promise<void> | undefined;
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #timerDueAt = 0;
  #retryAt = 0;
  #consecutiveFailures = 0;

  #written = 0;
  #dropped = 0;
  #failures = 0;
  #lastError: string | undefined;

  constructor(store: TrackingStore, options: BestEffortWriterOptions = {}) {
    const o = resolveWriterOptions(options);
    this.#store = store;
    this.#batchSize = o.batchSize;
    this.#maxFlushItems = o.maxFlushItems;
    this.#maxBufferItems = o.maxBufferItems;
    this.#intervalMs = o.flushIntervalMs;
    this.#settleMs = o.startedSettleMs;
    this.#retryBaseMs = o.retryBaseMs;
    this.#retryMaxMs = o.retryMaxMs;
    this.#stopTimeoutMs = o.stopTimeoutMs;
    this.#reporter = new WriteProblemReporter(o.logger, o.logIntervalMs);
    this.#buffer = new TrackingBuffer(o.maxBufferItems, (count) => this.#drop(count));
  }

  record(event: TaskEvent): void {
    if (!this.#accepting()) return;
    this.#buffer.addEvent(event);
    this.#schedule();
  }

  log(line: TaskLogLine): void {
    if (!this.#accepting()) return;
    this.#buffer.addLog(line);
    this.#schedule();
  }

  heartbeat(heartbeat: WorkerHeartbeat): void {
    if (!this.#accepting()) return;
    this.#buffer.addHeartbeat(heartbeat);
    this.#schedule();
  }

  /**
   * The submission of a task this writer holds and has not written yet (its PENDING events,
   * buffered or in the batch being written, folded as the store folds them); undefined when it
   * holds none. Lets the process that accepted a task answer a read of it at once, before the
   * event reaches the store ("read your submission"). Only PENDING: a later status it holds is
   * left to the store, so a read never runs ahead of a list (a task GET shows SUCCESS is in a
   * list of SUCCESS tasks). A scan of the buffer: for reads that missed the store.
   */
  unwrittenRecord(taskId: string): TaskRecord | undefined {
    const events = [
      ...this.#inFlightEvents.filter((event) => event.taskId === taskId),
      ...this.#buffer.eventsOf(taskId),
    ].filter((event) => event.status === "PENDING");
    let values: TaskValues | undefined;
    for (const event of events) {
      const incoming = eventToValues(event, values);
      values = values ? mergeTaskValues(values, incoming) : incoming;
    }
    return values && rowToRecord(values);
  }

  stats(): BestEffortWriterStats {
    return {
      written: this.#written,
      dropped: this.#dropped,
      pending: this.#buffer.size + this.#inFlight,
      failures: this.#failures,
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
    };
  }

  /** Starts flushing in the background (items recorded before are kept and written). */
  async start(): Promise<void> {
    if (this.#state === "stopping" || this.#state === "stopped") {
      throw new GoTaskQError("internal", "a stopped BestEffortWriter cannot be started again");
    }
    this.#state = "running";
    this.#schedule();
  }

  /**
   * Writes what is buffered now without waiting for the interval (e.g. before a CLI reads the
   * task back). Resolves once it is written, or once the store failed (the items stay buffered
   * for the background retries). Never rejects.
   */
  async flush(): Promise<void> {
    // Enough rounds for what is buffered at the call; items recorded meanwhile may wait.
    let rounds = Math.ceil(this.#buffer.size / this.#maxFlushItems) + 1;
    while (this.#state !== "stopped" && rounds > 0) {
      if (this.#flushing) {
        await this.#flushing;
        continue;
      }
      if (this.#buffer.size === 0) return;
      rounds -= 1;
      await this.#startFlush(true);
      // The store is unavailable: the background retries take it from here.
      if (this.#consecutiveFailures > 0) return;
    }
  }

  /** Flushes what it can within `stopTimeoutMs`, counts the rest as dropped. Idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= this.#drain();
    return this.#stopped;
  }

  /** Called on every record/log/heartbeat: false (and counted as dropped) once stopped. */
  #accepting(): boolean {
    if (this.#state === "stopped") {
      this.#drop(1);
      return false;
    }
    return true;
  }

  #drop(count: number): void {
    this.#dropped += count;
    this.#reporter.dropped(count, this.#dropped);
  }

  /** Arms the flush timer: now for a full batch, after the interval for a partial one. */
  #schedule(): void {
    if (this.#state !== "running" || this.#flushing || this.#buffer.size === 0) return;
    const now = Date.now();
    let due: number;
    if (now < this.#retryAt) due = this.#retryAt;
    else if (this.#buffer.items >= this.#batchSize) due = now;
    else due = this.#timer ? this.#timerDueAt : now + this.#intervalMs;
    if (this.#timer && this.#timerDueAt <= due) return;
    clearTimeout(this.#timer);
    this.#timerDueAt = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#startFlush();
    }, due - now);
    // Buffered tracking must not keep a finished process alive; stop() is what flushes at exit.
    this.#timer.unref();
  }

  /** Starts one flush (`complete`: young STARTED events too); the returned promise never rejects. */
  #startFlush(complete = false): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const flushing = this.#flushOnce(complete).finally(() => {
      this.#flushing = undefined;
      this.#schedule();
    });
    this.#flushing = flushing;
    return flushing;
  }

  async #flushOnce(complete: boolean): Promise<void> {
    // Behind (more buffered than one flush takes): the whole backlog goes in this one.
    const behind = this.#buffer.items > this.#maxFlushItems;
    const batch = this.#buffer.take(behind ? this.#maxBufferItems : this.#maxFlushItems);
    if (!complete && this.#settleMs > 0) {
      const waiting = holdYoungStarts(batch.events, Date.now() - this.#settleMs);
      if (waiting.length > 0) this.#buffer.putBackEvents(waiting);
    }
    this.#inFlight = batch.events.length + batch.logs.length + batch.heartbeats.length;
    this.#inFlightEvents = batch.events;
    let failure: unknown;
    // Once the store is found unavailable, the remaining parts go back untried.
    const step = async <T>(part: Part<T>): Promise<void> => {
      if (part.items.length === 0) return;
      if (failure !== undefined) part.putBack(part.items);
      else failure = await this.#writePart(part);
    };
    await step({
      items: batch.events,
      write: (b) => this.#store.record(b),
      putBack: (b) => this.#putBack(b, (items) => this.#buffer.putBackEvents(items)),
    });
    await step({
      items: batch.logs,
      write: (b) => this.#store.appendLogs(b),
      putBack: (b) => this.#putBack(b, (items) => this.#buffer.putBackLogs(items)),
    });
    await step({
      items: batch.heartbeats,
      write: (b) => this.#store.heartbeat(b),
      putBack: (b) => this.#putBack(b, (items) => this.#buffer.putBackHeartbeats(items)),
    });
    this.#inFlight = 0;
    this.#inFlightEvents = [];
    if (failure !== undefined) this.#onUnavailable(failure);
    else this.#onSuccess();
  }

  /** Writes one part; returns the error when the store is unavailable (the rest is put back). */
  async #writePart<T>(part: Part<T>): Promise<unknown> {
    try {
      await part.write(part.items);
      this.#written += part.items.length;
      return undefined;
    } catch (error) {
      if (isUnavailable(error)) {
        part.putBack(part.items);
        return error;
      }
      this.#noteFailure(error);
    }
    // The store refused the batch: find the item(s) it refuses instead of retrying forever.
    for (let i = 0; i < part.items.length; i += 1) {
      try {
        await part.write(part.items.slice(i, i + 1));
        this.#written += 1;
      } catch (error) {
        if (isUnavailable(error)) {
          part.putBack(part.items.slice(i));
          return error;
        }
        this.#noteFailure(error);
        this.#dropped += 1;
        this.#reporter.refused(error);
      }
    }
    return undefined;
  }

  /** Unwritten items go back to the buffer, or are counted as dropped once the writer stopped. */
  #putBack<T>(items: T[], putBack: (items: T[]) => void): void {
    if (this.#state === "stopped") this.#drop(items.length);
    else putBack(items);
  }

  #noteFailure(error: unknown): void {
    this.#failures += 1;
    this.#lastError = error instanceof Error ? error.message : String(error);
  }

  #onUnavailable(error: unknown): void {
    this.#noteFailure(error);
    this.#consecutiveFailures += 1;
    const exponent = Math.min(this.#consecutiveFailures - 1, 30);
    const ceiling = Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** exponent);
    // Jitter spreads the retries of many workers when a shared store comes back.
    this.#retryAt = Date.now() + Math.ceil(ceiling * (0.5 + Math.random() / 2));
    this.#reporter.failed(error, { pending: this.#buffer.size, dropped: this.#dropped });
  }

  #onSuccess(): void {
    if (this.#consecutiveFailures > 0) this.#reporter.recovered(this.#consecutiveFailures);
    this.#consecutiveFailures = 0;
    this.#retryAt = 0;
    this.#lastError = undefined;
  }

  async #drain(): Promise<void> {
    if (this.#state === "new" || this.#state === "running") this.#state = "stopping";
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const deadline = Date.now() + this.#stopTimeoutMs;
    const abort = new AbortController();
    let expired = false;
    const expiry = sleep(this.#stopTimeoutMs, abort.signal).then(
      () => {
        expired = true;
      },
      () => undefined,
    );
    const pause = (ms: number) => sleep(ms, abort.signal).catch(() => undefined);
    try {
      // Every pass either makes progress or waits on a timer, and re-checks the clock: a failing
      // store must not spin here in microtasks, where the expiry timer could never fire.
      while (this.#flushing || this.#buffer.size > 0) {
        const remaining = deadline - Date.now();
        if (expired || remaining <= 0) break;
        if (this.#flushing) {
          await Promise.race([this.#flushing, expiry]);
          continue;
        }
        // While the store is failing, keep to the backoff, but never past the deadline.
        const wait = this.#retryAt - Date.now();
        if (wait > 0) {
          await Promise.race([pause(Math.min(wait, remaining)), expiry]);
          continue;
        }
        await Promise.race([this.#startFlush(true), expiry]);
      }
    } finally {
      abort.abort();
      this.#state = "stopped";
      // A flush still in flight settles its own items (written, or dropped by #putBack).
      const left = this.#buffer.clear();
      if (left > 0) {
        this.#dropped += left;
        this.#reporter.abandoned(left, this.#stopTimeoutMs);
      }
    }
  }
}
