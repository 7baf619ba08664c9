import { InvalidArgumentError } from "../core/errors.js";
import type { ThroughputBucket, TrackingStore } from "../tracking/tracking-store.js";

// GET /v1/stats/throughput: tasks finished per queue per minute over a recent window (default the
// last hour), from the tracking store. Every queue seen in the window gets every bucket, zeros
// included, oldest first, so a chart needs no gap filling. The last bucket is the current,
// still-filling minute.

export const THROUGHPUT_BUCKET_MS = 60_000;
const MAX_WINDOW_MS = 24 * 3_600_000;
const UNIT_MS = { m: 60_000, h: 3_600_000 } as const;

export interface QueueThroughput {
  queue: string;
  buckets: { start: number; succeeded: number; failed: number }[];
}

/** "1h", "90m", "24h" → ms; 1 minute to 24 hours; default 1 hour. */
export function decodeWindow(query: unknown): number {
  const raw = (query as { window?: unknown } | null | undefined)?.window;
  if (raw === undefined || raw === "") return UNIT_MS.h;
  const match = typeof raw === "string" ? /^([1-9]\d{0,4})([mh])$/.exec(raw) : null;
  const ms = match ? Number(match[1]) * UNIT_MS[match[2] as "m" | "h"] : Number.NaN;
  if (!(ms <= MAX_WINDOW_MS)) {
    throw new InvalidArgumentError(
      `window must be minutes or hours like 15m, 1h or 24h, at most 24h (got ${JSON.stringify(raw)})`,
    );
  }
  return ms;
}

export async function queueThroughput(
  tracking: Pick<TrackingStore, "throughput">,
  windowMs: number,
  now: number,
): Promise<QueueThroughput[]> {
  const width = THROUGHPUT_BUCKET_MS;
  const end = Math.floor(now / width) * width + width;
  const count = Math.ceil(windowMs / width);
  const first = end - count * width;
  const found = await tracking.throughput({ since: first, bucketMs: width });
  const byQueue = new Map<string, Map<number, ThroughputBucket>>();
  for (const b of found) {
    if (b.start < first || b.start >= end) continue;
    const buckets = byQueue.get(b.queue) ?? new Map<number, ThroughputBucket>();
    byQueue.set(b.queue, buckets);
    buckets.set(b.start, b);
  }
  return [...byQueue.keys()].sort().map((queue) => {
    const buckets = byQueue.get(queue) as Map<number, ThroughputBucket>;
    return {
      queue,
      buckets: Array.from({ length: count }, (_, i) => {
        const start = first + i * width;
        const b = buckets.get(start);
        return { start, succeeded: b?.succeeded ?? 0, failed: b?.failed ?? 0 };
      }),
    };
  });
}
