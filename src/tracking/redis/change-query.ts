import { dbText, rowToRecord } from "../records/rows.js";
import { timeBound } from "../task-query.js";
import type { TaskRecord, TaskUpdatesQuery, ThroughputBucket } from "../tracking-store.js";
import { THROUGHPUT_MINUTE_MS } from "./scripts/keys-lua.js";
import { hashToValues, pairsToHash } from "./task-hash.js";

// updates() and throughput() queries as script arguments, and their replies as results
// (scripts/change-scripts.ts).

/**
 * Where an updates() page starts in the `upd` index: [updated_at, ""] to start at that time, or
 * [updated_at, id] to start strictly after that position.
 */
export function updatesStart(query: TaskUpdatesQuery): [number, string] {
  const since = timeBound("updatedSince", query.updatedSince);
  if (query.after) {
    const afterAt = timeBound("after.updatedAt", query.after.updatedAt);
    // Every entry at or after `since` is past an `after` older than it: the start is the later one.
    if (afterAt >= since) return [afterAt, dbText(query.after.id)];
  }
  return [since, ""];
}

/** The reply { id, HGETALL, id, HGETALL, … } as records. */
export function updatesRecords(reply: unknown): TaskRecord[] {
  const items = reply as (string | string[])[];
  const out: TaskRecord[] = [];
  for (let i = 0; i + 1 < items.length; i += 2) {
    const id = items[i] as string;
    out.push(rowToRecord(hashToValues(id, pairsToHash(items[i + 1] as string[]))));
  }
  return out;
}

/** Whether the per-minute counters answer the query exactly: whole minutes from a minute start. */
export function countersAnswer(since: number, width: number): boolean {
  return since % THROUGHPUT_MINUTE_MS === 0 && width % THROUGHPUT_MINUTE_MS === 0;
}

/** Sums into per-(queue, bucket) counts. */
export class BucketSums {
  readonly #buckets = new Map<string, ThroughputBucket>();

  constructor(readonly width: number) {}

  add(queue: string, at: number, succeeded: number, failed: number): void {
    const start = at - (at % this.width);
    const key = `${start}\u0000${queue}`;
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      bucket = { queue, start, succeeded: 0, failed: 0 };
      this.#buckets.set(key, bucket);
    }
    bucket.succeeded += succeeded;
    bucket.failed += failed;
  }

  /** The buckets with at least one task (a counter taken back to 0 leaves an empty one). */
  result(): ThroughputBucket[] {
    return [...this.#buckets.values()].filter((b) => b.succeeded > 0 || b.failed > 0);
  }
}

/** One minute's counter hash (field "s<queue>" / "f<queue>" → count) into the sums. */
export function addMinute(sums: BucketSums, minute: number, hash: Record<string, string>): void {
  for (const [field, value] of Object.entries(hash)) {
    const n = Number(value);
    if (!(n > 0)) continue;
    const queue = field.slice(1);
    if (field.startsWith("s")) sums.add(queue, minute, n, 0);
    else sums.add(queue, minute, 0, n);
  }
}
