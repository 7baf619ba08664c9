import { sleep } from "../core/lifecycle.js";
import type { Logger } from "../logging/logger.js";
import type { TaskRecord, TaskUpdatesQuery } from "../tracking/tracking-store.js";

// The live feed of task changes behind GET /v1/events: ONE poll loop per API process, shared by
// every connected client, that reads the tracking store's `updates()` (records by latest event
// time) and hands each batch of changed records to the subscribers. The tracking store is where
// every process's task events meet (workers never talk to the API), so polling it is what lets
// a dashboard see a task submitted or run anywhere; an idle store costs one indexed range query
// per poll. The loop runs only while someone is subscribed.
//
// updatedAt is an event time from the writer's clock, and events reach the store late (the
// best-effort writer batches them, ~100 ms; more while the store was down), so each poll reads
// back `lookbackMs` before the newest change already seen and drops what it already delivered
// (same id and version). A change written later than that, or on a host whose clock lags by
// more, is not streamed (the UI refreshes its lists on (re)connect and page loads).

export interface TaskFeedOptions {
  /** Reads changes; usually TaskService.updates. */
  source: (query: TaskUpdatesQuery) => Promise<TaskRecord[]>;
  logger: Logger;
  /** Between two polls (ms). Default 250: a change shows within about a second. */
  pollMs?: number;
  /** How far each poll reads back before the newest change seen (ms). Default 3,000. */
  lookbackMs?: number;
  /** Records per page (1–500). Default 500. */
  pageSize?: number;
  /** Pages read per poll at most (the rest follow on the next poll). Default 20. */
  maxPagesPerPoll?: number;
  now?: () => number;
}

export type FeedListener = (records: readonly TaskRecord[]) => void;

/** What makes a record worth sending again: a new event merged, or a new status version. */
function versionOf(r: TaskRecord): string {
  return `${r.updatedAt}|${r.run}|${r.attempt}|${r.status}|${r.startedAt}|${r.completedAt}|${r.deliveryCount}`;
}

export class TaskFeed {
  readonly #source: TaskFeedOptions["source"];
  readonly #logger: Logger;
  readonly #pollMs: number;
  readonly #lookbackMs: number;
  readonly #pageSize: number;
  readonly #maxPages: number;
  readonly #now: () => number;
  readonly #listeners = new Set<FeedListener>();
  /** id → [updatedAt ms, version] of what was delivered within the look-back window. */
  readonly #seen = new Map<string, [number, string]>();
  #newest = 0;
  /** Where the previous poll stopped when it hit maxPagesPerPoll: the next one goes on from there. */
  #resume: TaskUpdatesQuery["after"];
  #loop: Promise<void> | undefined;
  #abort: AbortController | undefined;
  #failingSince: number | undefined;

  constructor(options: TaskFeedOptions) {
    this.#source = options.source;
    this.#logger = options.logger;
    this.#pollMs = options.pollMs ?? 250;
    this.#lookbackMs = options.lookbackMs ?? 3_000;
    this.#pageSize = options.pageSize ?? 500;
    this.#maxPages = options.maxPagesPerPoll ?? 20;
    this.#now = options.now ?? Date.now;
  }

  get subscribers(): number {
    return this.#listeners.size;
  }

  /** Receives every change from now on; returns the unsubscribe function. */
  subscribe(listener: FeedListener): () => void {
    this.#listeners.add(listener);
    if (!this.#loop) this.#start();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) void this.#stop();
    };
  }

  /** Stops the loop (idempotent); subscribers simply stop receiving. */
  async close(): Promise<void> {
    this.#listeners.clear();
    await this.#stop();
  }

  #start(): void {
    const abort = new AbortController();
    this.#abort = abort;
    this.#seen.clear();
    this.#newest = this.#now();
    this.#resume = undefined;
    this.#loop = this.#run(abort.signal);
  }

  async #stop(): Promise<void> {
    this.#abort?.abort();
    const loop = this.#loop;
    this.#loop = undefined;
    this.#abort = undefined;
    await loop;
  }

  async #run(signal: AbortSignal): Promise<void> {
    // The first poll only learns what is already there: subscribers get changes, not history.
    let prime = true;
    while (!signal.aborted) {
      try {
        const changed = await this.#poll();
        if (this.#failingSince !== undefined) {
          this.#logger.info({ event: "task_feed_recovered" }, "live task feed reads again");
          this.#failingSince = undefined;
        }
        if (!prime && changed.length > 0 && !signal.aborted) {
          for (const listener of this.#listeners) {
            try {
              listener(changed);
            } catch (error) {
              this.#logger.error({ err: error }, "live task feed listener failed");
            }
          }
        }
        prime = false;
      } catch (error) {
        if (this.#failingSince === undefined) {
          this.#failingSince = this.#now();
          this.#logger.warn(
            { event: "task_feed_unavailable", err: error },
            "live task feed cannot read the tracking store; retrying",
          );
        }
      }
      try {
        await sleep(this.#failingSince === undefined ? this.#pollMs : this.#pollMs * 4, signal);
      } catch {
        return;
      }
    }
  }

  /**
   * One poll: every change since the look-back point not delivered yet, oldest first, at most
   * maxPagesPerPoll pages. A poll cut short leaves a resume key, so a burst larger than one poll
   * is read across several polls instead of re-reading the same first pages forever.
   */
  async #poll(): Promise<TaskRecord[]> {
    const since = Math.min(this.#newest, this.#now()) - this.#lookbackMs;
    const changed: TaskRecord[] = [];
    let after = this.#resume;
    this.#resume = undefined;
    for (let page = 0; page < this.#maxPages; page += 1) {
      const records = await this.#source({
        updatedSince: since,
        limit: this.#pageSize,
        ...(after ? { after } : {}),
      });
      for (const record of records) {
        const at = Date.parse(record.updatedAt);
        const version = versionOf(record);
        if (this.#seen.get(record.id)?.[1] !== version) {
          this.#seen.set(record.id, [at, version]);
          changed.push(record);
        }
        if (at > this.#newest) this.#newest = at;
        after = { updatedAt: at, id: record.id };
      }
      if (records.length < this.#pageSize) break;
      if (page === this.#maxPages - 1) this.#resume = after;
    }
    for (const [id, [at]] of this.#seen) if (at < since) this.#seen.delete(id);
    return changed;
  }
}
