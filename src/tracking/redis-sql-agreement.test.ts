import { afterAll, describe, expect, it } from "vitest";
import { deleteKeys, testPrefix, trackingKeys } from "../../test/support/redis-keys.js";
import { SERVICES, serviceAvailable } from "../../test/support/services.js";
import { TASK_STATUSES } from "../core/status.js";
import { allPages, seededRandom, T0, taskId } from "./conformance/fixtures.case.js";
import { openRedisTrackingStore } from "./redis/open-redis-tracking-store.js";
import { openSqlTrackingStore } from "./sql/sql-tracking-store.js";
import type { TaskEvent, ThroughputBucket, TrackingStore } from "./tracking-store.js";

// The Redis and SQL tracking stores hold the same records: the merge is written twice, in SQL and
// in Lua, and the conformance suite pins only the histories it spells out. Here both stores take
// the same random out-of-order histories and must agree on every record, list order, update order
// and throughput count. It lives above tracking/redis and tracking/sql so neither imports the
// other; Redis is the shared one on 127.0.0.1:6379, SQL an in-memory SQLite.

const available = await serviceAvailable("redis");
const url = SERVICES.redis.url;
const run = testPrefix("agree");

/** A random event of a task among `ids`: any run, attempt and status, any subset of fields. */
function randomEvent(ids: readonly string[], random: () => number): TaskEvent {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const maybe = <T>(value: T): T | undefined => (random() < 0.5 ? value : undefined);
  const at = T0 + Math.floor(random() * 10_000);
  const event: TaskEvent = {
    taskId: pick(ids),
    run: pick([0, 0, 0, 1]),
    attempt: pick([0, 0, 1, 2]),
    status: pick(TASK_STATUSES),
    at,
  };
  const fields: Partial<TaskEvent> = {
    functionKey: maybe(pick(["Email.Send", "report.build", "x"])),
    queue: maybe(pick(["default", "mail"])),
    priority: maybe(pick([1, 5, 9])),
    payload: maybe(pick([{ n: 1 }, null, "text", [1, 2]])),
    maxRetries: maybe(3),
    timeoutMs: maybe(30_000),
    metadata: maybe({ tenant: pick(["a", "b"]) }),
    idempotencyKey: maybe(pick(["", "k1"])),
    createdAt: maybe(T0 + Math.floor(random() * 1_000)),
    startedAt: maybe(at - 5),
    completedAt: maybe(at),
    durationMs: maybe(5),
    result: maybe(pick([{ ok: true }, null, 0])),
    error: maybe({ message: pick(["Boom", "Größe"]), type: "Error" }),
    workerId: maybe(pick(["w1", "w2"])),
    deliveryCount: maybe(pick([1, 2])),
    runAt: maybe(at + 1_000),
    deadLetterReason: maybe("poison"),
  };
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) (event as unknown as Record<string, unknown>)[key] = value;
  }
  return event;
}

afterAll(async () => {
  if (available) await deleteKeys(url, trackingKeys(`${run}*`));
});

describe.skipIf(!available)("Redis and SQL tracking stores", () => {
  it("converges to exactly the SQL store's records on random out-of-order histories", async () => {
    const redis = openRedisTrackingStore(`${url}?prefix=${run}&retention=0`);
    const sql = await openSqlTrackingStore("sqlite::memory:");
    try {
      await Promise.all([redis.migrate(), sql.migrate()]);
      let compared = 0;
      for (const seed of [1, 2, 3, 4, 5]) {
        const random = seededRandom(seed);
        const ids = Array.from({ length: 12 }, () => taskId());
        for (let batch = 0; batch < 40; batch += 1) {
          const events = Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
            randomEvent(ids, random),
          );
          await Promise.all([redis.record(events), sql.record(events)]);
        }
        for (const id of ids)
          expect(await redis.get(id), `seed ${seed}`).toEqual(await sql.get(id));
        const order = async (store: TrackingStore, query: Parameters<TrackingStore["list"]>[0]) =>
          (await allPages(store, { ...query, limit: 5 })).ids.filter((id) => ids.includes(id));
        for (const query of [
          {},
          { status: ["SUCCESS" as const, "FAILURE" as const, "PENDING" as const] },
          { functionKey: "report.build" },
          { queue: "mail", since: T0 + 200, until: T0 + 5_000 },
          { text: "größe" },
          { text: "email" },
        ]) {
          expect(await order(redis, query), JSON.stringify(query)).toEqual(await order(sql, query));
        }
        // updates() in the same order, and throughput() with the same counts: the per-minute
        // counters (minute buckets from a minute start) and the exact scan (any other query).
        const changes = async (store: TrackingStore) =>
          (await store.updates({ updatedSince: T0 + 3_000, limit: 500 }))
            .filter((t) => ids.includes(t.id))
            .map((t) => [t.id, t.updatedAt]);
        const expected = await changes(sql);
        expect(await changes(redis), `seed ${seed}`).toEqual(expected);
        compared += expected.length;
        const sorted = (buckets: ThroughputBucket[]) =>
          [...buckets].sort((x, y) => x.queue.localeCompare(y.queue) || x.start - y.start);
        for (const query of [
          { since: T0 - 60_000, bucketMs: 60_000 },
          { since: T0 + 2_500, bucketMs: 1_000 },
        ]) {
          const buckets = sorted(await sql.throughput(query));
          expect(sorted(await redis.throughput(query)), JSON.stringify(query)).toEqual(buckets);
          compared += buckets.length;
        }
      }
      // The histories do produce changes and finished tasks to compare (the test can fail).
      expect(compared).toBeGreaterThan(50);
    } finally {
      await redis.close();
      await sql.close();
    }
  });
});
