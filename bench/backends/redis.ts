import { Redis } from "ioredis";
import { describeRedis, redisReachable } from "../bullmq-scenarios.js";
import type { BenchBackend } from "./backend.js";

// The Redis Streams broker on the same Redis that BullMQ uses (`BENCH_REDIS_URL`, default
// redis://127.0.0.1:6379): every cell under its own key prefix (`?prefix=` of the broker URL),
// all of this run's keys deleted at the end (SCAN + UNLINK of the run's prefix; never FLUSHALL).
// With tracking on, GoTaskQ tracks into the Redis tracking store on the same Redis (its keys are
// `{<prefix>}:t:…`, deleted at the end too), so the column measures an all-Redis deployment;
// `BENCH_TRACKING_REDIS_URL` puts the tracking store on another Redis instead.

const redisUrl = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
/**
 * Where the tracking store lives (`BENCH_TRACKING_REDIS_URL`, default the broker's Redis): a Redis
 * of its own shows what tracking costs when the broker's Redis does not run its scripts.
 */
const trackingRedisUrl = process.env.BENCH_TRACKING_REDIS_URL ?? redisUrl;
const PREFIX = "gtqbench";

function withPrefix(prefix: string, options: Record<string, string> = {}, base = redisUrl): string {
  const url = new URL(base);
  url.searchParams.set("prefix", prefix);
  for (const [name, value] of Object.entries(options)) url.searchParams.set(name, value);
  return url.toString();
}

export const backend: BenchBackend = {
  name: "redis",
  title: "Redis Streams",
  rawLabel: "raw ioredis streams ceiling",
  rawDescription:
    "ioredis used directly as an expert would: pipelined XADD per publish batch, one consumer reading XREADGROUP sized to its free slots on a blocking connection, XACKs grouped per tick on a second connection, same envelope bytes; no priorities, delays, leases, DLQ or tracking.",
  async unavailable() {
    return (await redisReachable(redisUrl)) ? undefined : `Redis not reachable at ${redisUrl}`;
  },
  async start() {},
  brokerUrl: (scope) => withPrefix(`${PREFIX}-${scope}`),
  trackingUrl: (scope) => withPrefix(`${PREFIX}-${scope}`, { retention: "1d" }, trackingRedisUrl),
  rawUrl: (scope) => withPrefix(`${PREFIX}-${scope}`),
  describe: async () => {
    const broker = await describeRedis(redisUrl);
    if (trackingRedisUrl === redisUrl) return broker;
    return `${broker}; tracking store on its own ${await describeRedis(trackingRedisUrl)} at ${new URL(trackingRedisUrl).host}`;
  },
  async stop(runId) {
    // The broker's keys, then the tracking store's (`{<prefix>}:t:…`), wherever each lives.
    await removeKeys(redisUrl, `${PREFIX}-${runId}-*`);
    await removeKeys(trackingRedisUrl, `{${PREFIX}-${runId}-*`);
  },
};

/** SCAN + UNLINK of the keys matching pattern (never FLUSHALL: the Redis may be shared). */
async function removeKeys(url: string, pattern: string): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", pattern, "COUNT", 1_000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    client.disconnect();
  }
}
