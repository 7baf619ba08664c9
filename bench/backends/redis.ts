import { Redis } from "ioredis";
import { describeRedis, redisReachable } from "../bullmq-scenarios.js";
import type { BenchBackend } from "./backend.js";

// The Redis Streams broker on the same Redis that BullMQ uses (`BENCH_REDIS_URL`, default
// redis://127.0.0.1:6379): every cell under its own key prefix (`?prefix=` of the broker URL),
// all of this run's keys deleted at the end (SCAN + UNLINK of the run's prefix; never FLUSHALL).
// With tracking on, GoTaskQ tracks into the Redis tracking store on the same Redis (its keys are
// `{<prefix>}:t:…`, deleted at the end too), so the column measures an all-Redis deployment.

const redisUrl = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
const PREFIX = "gtqbench";

function withPrefix(prefix: string, options: Record<string, string> = {}): string {
  const url = new URL(redisUrl);
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
  trackingUrl: (scope) => withPrefix(`${PREFIX}-${scope}`, { retention: "1d" }),
  rawUrl: (scope) => withPrefix(`${PREFIX}-${scope}`),
  describe: () => describeRedis(redisUrl),
  async stop(runId) {
    const client = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    try {
      // The broker's keys, then the tracking store's (`{<prefix>}:t:…`).
      for (const pattern of [`${PREFIX}-${runId}-*`, `{${PREFIX}-${runId}-*`]) {
        let cursor = "0";
        do {
          const [next, keys] = await client.scan(cursor, "MATCH", pattern, "COUNT", 1_000);
          cursor = next;
          if (keys.length > 0) await client.unlink(...keys);
        } while (cursor !== "0");
      }
    } finally {
      client.disconnect();
    }
  },
};
