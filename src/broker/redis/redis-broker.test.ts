import { Writable } from "node:stream";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPrivateRedis } from "../../../test/support/redis-server.js";
import { SERVICES, serviceAvailable } from "../../../test/support/services.js";
import { openBroker } from "../../backends/open.js";
import { describeBrokerConformance } from "../conformance/broker.case.js";
import { Inbox, message, pollUntil } from "../conformance/inbox.case.js";
import { durabilityProblems } from "./durability-check.js";
import { openRedisBroker, redisBrokerOptionsFromUrl } from "./redis-broker.js";
import { deleteKeys, uniquePrefix } from "./test-namespace.fixture.js";

// The Redis Streams broker on the shared conformance suite against the Redis on 127.0.0.1:6379,
// each harness under its own key prefix (deleted afterwards), plus what is specific to Redis:
// keys carry the queue's hash tag, start-up warnings, the URL's prefix option.

const available = await serviceAvailable("redis");
const url = SERVICES.redis.url;

describe.skipIf(!available)("redis broker", () => {
  describeBrokerConformance("redis", async () => {
    const prefix = uniquePrefix();
    return {
      open: async () => openRedisBroker({ url, prefix, warn: () => {} }),
      cleanup: () => deleteKeys(url, prefix),
    };
  });

  describe("redis specifics", () => {
    const prefix = uniquePrefix();
    let raw: Redis;
    beforeAll(async () => {
      raw = new Redis(url);
    });
    afterAll(async () => {
      raw.disconnect();
      await deleteKeys(url, prefix);
    });

    it("keeps every key of a queue under its hash tag, and nothing outside the prefix", async () => {
      const broker = openRedisBroker({ url, prefix, warn: () => {} });
      try {
        await broker.publish("tagged", [
          message("a"),
          message("b", { delayMs: 60_000, priority: 9 }),
        ]);
        const inbox = new Inbox();
        await broker.consume(["tagged"], { prefetch: 1, leaseMs: 5_000 }, inbox.push);
        await (await inbox.next(5_000)).deadLetter("poison", "for the key test");
        const keys = await raw.keys(`${prefix}:*`);
        const queueKeys = keys.filter((k) => k !== `${prefix}:queues`);
        expect(queueKeys.length).toBeGreaterThan(3);
        for (const key of queueKeys) expect(key.startsWith(`${prefix}:{tagged}:`)).toBe(true);
        // Redis Cluster hashes only the text inside the first {…}: every key of the queue lands
        // in the slot of "tagged", so each script (one queue's keys) runs on one node.
        for (const key of queueKeys) expect(/\{([^}]*)\}/.exec(key)?.[1]).toBe("tagged");
      } finally {
        await broker.close();
      }
    });

    it("counts deliveries that ended unsettled, across a release", async () => {
      const broker = openRedisBroker({ url, prefix, warn: () => {} });
      const queue = "counting";
      try {
        await broker.publish(queue, [message("c1")]);
        const inbox = new Inbox();
        await broker.consume([queue], { prefetch: 2, leaseMs: 150 }, inbox.push);
        const first = await inbox.next(5_000);
        // Not settled: the lease runs out and the same consumer reclaims it (a delivery).
        const second = await inbox.next(5_000, "the reclaimed delivery");
        expect([first.deliveryCount, second.deliveryCount]).toEqual([1, 2]);
        await expect(first.ack()).rejects.toMatchObject({ code: "conflict" });
        await second.release();
        const third = await inbox.next(5_000, "the released message");
        expect(third.deliveryCount).toBe(2);
        await third.ack();
      } finally {
        await broker.close();
      }
    });

    it("holds a delay of 7 days without blocking a 1 ms one behind it", async () => {
      const broker = openRedisBroker({ url, prefix, warn: () => {} });
      const queue = "week";
      const week = 7 * 24 * 3_600_000;
      try {
        const before = Date.now();
        await broker.publish(queue, [
          message("in-a-week", { delayMs: week }),
          message("in-1-ms", { delayMs: 1 }),
        ]);
        const inbox = new Inbox();
        await broker.consume([queue], { prefetch: 5, leaseMs: 5_000 }, inbox.push);
        const first = await inbox.next(5_000);
        expect(first.id).toBe("in-1-ms");
        await first.ack();
        const [, score] = await raw.zrange(`${prefix}:{${queue}}:delayed`, 0, 0, "WITHSCORES");
        expect(Number(score) - before).toBeGreaterThanOrEqual(week - 60_000);
        expect(Number(score) - before).toBeLessThanOrEqual(week + 60_000);
        expect(await broker.stats(queue)).toMatchObject({ ready: 0, inFlight: 0, delayed: 1 });
      } finally {
        await broker.close();
      }
    });

    it("names the Redis setting to change when data could be evicted or lost", () => {
      const problems = durabilityProblems(
        new Map([
          ["maxmemory-policy", "allkeys-lru"],
          ["appendonly", "no"],
          ["save", ""],
        ]),
      );
      expect(problems).toHaveLength(2);
      expect(problems[0]).toContain("maxmemory-policy noeviction");
      expect(problems[1]).toContain("appendonly yes");
      expect(
        durabilityProblems(
          new Map([
            ["maxmemory-policy", "noeviction"],
            ["appendonly", "yes"],
            ["save", ""],
          ]),
        ),
      ).toEqual([]);
    });

    it("warns once at start-up when the server's persistence is off", async () => {
      const warnings: string[] = [];
      const [, appendonly] = (await raw.config("GET", "appendonly")) as string[];
      const [, save] = (await raw.config("GET", "save")) as string[];
      const broker = openRedisBroker({
        url: `${url}/0?x=1`,
        prefix,
        warn: (m) => warnings.push(m),
      });
      try {
        await broker.ping();
        if (appendonly === "no" && save === "") {
          await pollUntil(() => warnings.some((w) => w.includes("appendonly yes")), {
            timeoutMs: 3_000,
            what: "the persistence warning",
          });
        }
      } finally {
        await broker.close();
      }
    });

    it("logs its warnings through the logger openBroker is given, as broker_warning lines", async () => {
      // A Redis of its own without persistence, so the warning is certain whatever the machine's.
      const server = await startPrivateRedis({ persistence: "none" });
      const lines: { level: number; event?: string; msg: string }[] = [];
      const out = new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
          done();
        },
      });
      const broker = await openBroker(`${server.url}?prefix=${prefix}`, {
        logger: pino({ level: "info" }, out),
      });
      try {
        await broker.ping();
        await pollUntil(() => lines.some((l) => l.msg.includes("appendonly yes")), {
          timeoutMs: 3_000,
          what: "the persistence warning in the log",
        });
        expect(lines.find((l) => l.msg.includes("appendonly yes"))).toMatchObject({
          level: 40,
          event: "broker_warning",
        });
      } finally {
        await broker.close();
        await server.cleanup();
      }
    });

    it("reads the key prefix from the URL and refuses a prefix with braces", () => {
      expect(redisBrokerOptionsFromUrl("redis://127.0.0.1:6379/2?prefix=app1")).toEqual({
        url: "redis://127.0.0.1:6379/2",
        prefix: "app1",
      });
      expect(() => openRedisBroker({ url, prefix: "a{b}" })).toThrow(/braces are reserved/);
    });

    it("fails fast with unavailable when Redis cannot be reached", async () => {
      const broker = openRedisBroker({
        url: "redis://127.0.0.1:1",
        prefix,
        connectTimeoutMs: 300,
        warn: () => {},
      });
      try {
        await expect(broker.publish("q", [message("x")])).rejects.toMatchObject({
          code: "unavailable",
        });
        await expect(broker.ping()).rejects.toMatchObject({ code: "unavailable" });
      } finally {
        await broker.close();
      }
    });
  });
});
