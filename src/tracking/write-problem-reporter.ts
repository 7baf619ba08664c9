import type { Logger } from "../logging/logger.js";

// Log lines about tracking problems, rate-limited: while a store is down the writer fails
// every few seconds in every process, and one line per failed flush would bury the logs that
// matter. Each kind of problem logs at most once per interval and says how many were folded
// into it since the last line.

type Kind = "failed" | "dropped" | "refused";

export class WriteProblemReporter {
  readonly #logger: Logger | undefined;
  readonly #intervalMs: number;
  readonly #lastAt = new Map<Kind, number>();
  readonly #suppressed = new Map<Kind, number>();
  /** Whether an outage was reported, so its end is reported too (and only then). */
  #outageReported = false;

  constructor(logger: Logger | undefined, intervalMs: number) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  /** Counts the occurrence; returns how many were suppressed before it when it may be logged. */
  #due(kind: Kind, count = 1): number | undefined {
    const now = Date.now();
    const last = this.#lastAt.get(kind);
    const suppressed = (this.#suppressed.get(kind) ?? 0) + count;
    if (last !== undefined && now - last < this.#intervalMs) {
      this.#suppressed.set(kind, suppressed);
      return undefined;
    }
    this.#lastAt.set(kind, now);
    this.#suppressed.set(kind, 0);
    return suppressed - count;
  }

  failed(error: unknown, state: { pending: number; dropped: number }): void {
    const earlier = this.#due("failed");
    if (earlier === undefined || !this.#logger) return;
    this.#outageReported = true;
    this.#logger.warn(
      {
        event: "tracking_store_unavailable",
        err: messageOf(error),
        failuresSinceLastReport: earlier + 1,
        ...state,
      },
      "tracking store write failed; events stay buffered and are retried",
    );
  }

  recovered(failures: number): void {
    if (!this.#outageReported || !this.#logger) return;
    this.#outageReported = false;
    this.#logger.info(
      { event: "tracking_store_recovered", consecutiveFailures: failures },
      "tracking store writes succeed again",
    );
  }

  dropped(count: number, total: number): void {
    const earlier = this.#due("dropped", count);
    if (earlier === undefined || !this.#logger) return;
    this.#logger.warn(
      {
        event: "tracking_items_dropped",
        droppedSinceLastReport: earlier + count,
        droppedTotal: total,
      },
      "tracking buffer full (or writer stopped): oldest items dropped",
    );
  }

  refused(error: unknown): void {
    const earlier = this.#due("refused");
    if (earlier === undefined || !this.#logger) return;
    this.#logger.error(
      {
        event: "tracking_item_refused",
        err: messageOf(error),
        refusedSinceLastReport: earlier + 1,
      },
      "tracking store refused an item; it was dropped",
    );
  }

  abandoned(count: number, timeoutMs: number): void {
    this.#logger?.warn(
      { event: "tracking_items_abandoned", count, stopTimeoutMs: timeoutMs },
      "tracking writer stopped with items still unwritten; they are counted as dropped",
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
