import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { promisify } from "node:util";
import amqp from "amqplib";
import { afterAll, describe, expect, it } from "vitest";
import { eventually, Sandbox } from "../../../test/support/cli.js";
import { ADMIN_KEY } from "../../../test/support/dev-server.js";
import { devSleepScenario, killNine, trackedCounts } from "../../../test/support/kill-nine.js";
import { SERVICES, serviceAvailable } from "../../../test/support/services.js";
import { silentLogger } from "../../logging/logger.js";
import { Producer } from "../../producer/producer.js";
import { defineTasks } from "../../tasks/registry.js";
import { openSqlTrackingStore } from "../../tracking/sql/sql-tracking-store.js";
import type { TrackingStore } from "../../tracking/tracking-store.js";
import { describeUnknownFunctions } from "../../worker/unknown-functions.case.js";
import { Worker } from "../../worker/worker.js";
import { describeBrokerConformance } from "../conformance/broker.case.js";
import { Inbox, message, pollUntil, read, text } from "../conformance/inbox.case.js";
import { parseRabbitUrl } from "./options.js";
import { openRabbitBroker, type RabbitBroker } from "./rabbitmq-broker.js";
import { delayRoute, Names } from "./topology.js";

// Every test that touches RabbitMQ lives in this one file, so they run one after another: the
// fault test stops the broker application (`rabbitmqctl stop_app`), which no other RabbitMQ test
// may see, and always starts it again. Each harness works under its own name prefix and deletes
// what it declared afterwards.

const available = await serviceAvailable("rabbitmq");
const AMQP = SERVICES.rabbitmq.url;
const run = promisify(execFile);

function prefixedUrl(extra = ""): string {
  return `${AMQP}?prefix=t-${randomBytes(5).toString("hex")}.${extra}`;
}

function harness(extra = "") {
  return async () => {
    const url = prefixedUrl(extra);
    return {
      open: async () => openRabbitBroker(url),
      cleanup: () => destroy(url),
    };
  };
}

async function destroy(url: string): Promise<void> {
  const admin = openRabbitBroker(url);
  try {
    await admin.destroy();
  } finally {
    await admin.close();
  }
}

const NO_LEASES =
  "RabbitMQ has no per-message lease: a delivery stays with its consumer while the consumer's channel lives (bounded by consumer_timeout), so another consumer cannot take it from a live holder";

describe("rabbitmq URL options", () => {
  it("parses GoTaskQ's options, strips them, and refuses bad values with a message", () => {
    const o = parseRabbitUrl(
      "amqp://u:secret@rabbit:5673/vh?queue_type=quorum&prefix=app.&consumer_timeout_ms=60000&heartbeat=5",
    );
    expect(o).toMatchObject({
      queueType: "quorum",
      prefix: "app.",
      consumerTimeoutMs: 60_000,
      where: "amqp://rabbit:5673/vh",
    });
    expect(o.url).toBe("amqp://u:secret@rabbit:5673/vh?heartbeat=5");
    expect(() => parseRabbitUrl("amqp://h?queue_type=lazy")).toThrow(/queue_type must be/);
    expect(() => parseRabbitUrl("amqp://h?prefix=a/b")).toThrow(/prefix must match/);
    expect(() => parseRabbitUrl("amqp://h?consumer_timeout_ms=1.5")).toThrow(
      /consumer_timeout_ms .* integer/,
    );
  });

  it("writes a delay into the routing key in binary and enters the ladder at its highest bit", () => {
    const names = new Names("p.");
    const week = 7 * 86_400_000;
    for (const delay of [1, 2, 3, 1_500, week, 2 ** 32 - 1]) {
      const route = delayRoute(names, "q.x", delay);
      const words = route.routingKey.split(".");
      expect(words.slice(32)).toEqual(["q", "x"]);
      const bits = words.slice(0, 32).join("");
      expect(Number.parseInt(bits, 2)).toBe(delay);
      expect(route.exchange).toBe(`p.delay/${Math.floor(Math.log2(delay))}`);
    }
  });

  it("a worker refuses task timeouts above the broker's consumer_timeout, a producer too", async () => {
    // The client connects lazily: nothing here talks to RabbitMQ.
    const broker = openRabbitBroker(`${AMQP}?consumer_timeout_ms=60000`);
    const registry = defineTasks({ "t.long": { handler: () => 1, timeoutMs: 59_000 } });
    expect(
      () => new Worker({ broker, registry: defineTasks({}), timeoutMs: 60_000, graceMs: 0 }),
    ).toThrow(/timeoutMs \(60000 ms\).*consumer_timeout/);
    expect(() => new Worker({ broker, registry, graceMs: 5_000 })).toThrow(
      /timeoutMs of function t.long .*below .* 60000 ms/,
    );
    const producer = new Producer({ broker, logger: silentLogger() });
    await expect(
      producer.submit({ function_key: "t.any", timeout_ms: 60_000 }),
    ).rejects.toMatchObject({
      code: "invalid_argument",
      message: expect.stringContaining("consumer_timeout"),
    });
    await broker.close();
  });
});

describe.skipIf(!available)("rabbitmq broker", () => {
  describeBrokerConformance("rabbitmq (classic queues)", harness(), {
    skip: { "lease-lost": NO_LEASES },
  });

  const NO_PRIORITIES =
    "quorum queues have no priorities on RabbitMQ 3.10 (limits.priorities = 1): delivery is FIFO; use queue_type=classic for priorities";
  describeBrokerConformance("rabbitmq (quorum queues)", harness("&queue_type=quorum"), {
    skip: {
      "lease-lost": NO_LEASES,
      "priority-order": NO_PRIORITIES,
      "fifo-within-priority": NO_PRIORITIES,
    },
  });

  // Here rather than in src/worker/unknown-functions.test.ts: every RabbitMQ test lives in this file.
  describeUnknownFunctions("rabbitmq", async () => {
    const url = prefixedUrl();
    return { open: async () => openRabbitBroker(url), cleanup: () => destroy(url) };
  });

  describe("rabbitmq specifics", () => {
    const urls: string[] = [];
    const opened: RabbitBroker[] = [];
    const open = (url: string) => {
      const broker = openRabbitBroker(url);
      opened.push(broker);
      return broker;
    };
    afterAll(async () => {
      await Promise.allSettled(opened.map((b) => b.close()));
      for (const url of urls) await destroy(url).catch(() => undefined);
    });

    it("delays of 1 ms to 7 days travel the ladder inside RabbitMQ, none blocking a shorter one", async () => {
      const url = prefixedUrl();
      urls.push(url);
      const broker = open(url);
      const inbox = new Inbox();
      await broker.consume(["ladder"], { prefetch: 50, leaseMs: 30_000 }, inbox.push);
      const week = 7 * 86_400_000;
      const publishedAt = Date.now();
      // The long ones first: a FIFO delay queue would hold the short ones behind them.
      await broker.publish("ladder", [
        message("week", { delayMs: week }),
        message("hour", { delayMs: 3_600_000 }),
        message("d700", { delayMs: 700 }),
        message("d333", { delayMs: 333 }),
        message("d1", { delayMs: 1 }),
        message("d2", { delayMs: 2 }),
        message("now", { delayMs: 0 }),
      ]);
      const order: string[] = [];
      const times = new Map<string, number>();
      for (let i = 0; i < 5; i++) {
        const d = await inbox.next(5_000, `delivery ${i + 1} of 5`);
        order.push(d.id);
        times.set(d.id, Date.now() - publishedAt);
        await d.ack();
      }
      expect(order.slice(3)).toEqual(["d333", "d700"]);
      expect(order.slice(0, 3).sort()).toEqual(["d1", "d2", "now"]);
      expect(times.get("d333")).toBeGreaterThanOrEqual(333 - 5);
      expect(times.get("d700")).toBeGreaterThanOrEqual(700 - 5);
      // The week and the hour wait in their rungs: counted as delayed, not delivered.
      const stats = await broker.stats("ladder");
      expect(stats).toMatchObject({ ready: 0, delayed: 2 });
      // Each waits in the rung of its highest bit: 2^29 ms for the week, 2^21 ms for the hour.
      const admin = await amqp.connect(AMQP);
      try {
        const ch = await admin.createChannel();
        const rungCount = async (k: number) =>
          (await ch.checkQueue(broker.names.rung(k, "ladder"))).messageCount;
        expect([await rungCount(29), await rungCount(21)]).toEqual([1, 1]);
        expect(Math.floor(Math.log2(week))).toBe(29);
      } finally {
        await admin.close();
      }
      expect(await inbox.nothingWithin(300)).toBeUndefined();
    });

    it("counts every redelivery of a classic queue, so a task that kills its consumer reaches the poison limit", async () => {
      const url = prefixedUrl();
      urls.push(url);
      await open(url).publish("crashy", [message("boom")]);
      const counts: number[] = [];
      for (let i = 0; i < 4; i++) {
        // A consumer that takes the message and dies without settling it.
        const doomed = openRabbitBroker(url);
        const inbox = new Inbox();
        await doomed.consume(["crashy"], { prefetch: 1, leaseMs: 1_000 }, inbox.push);
        counts.push((await inbox.next(5_000, `delivery ${i + 1}`)).deliveryCount);
        await doomed.close();
      }
      expect(counts).toEqual([1, 2, 3, 4]);
    });

    it("quorum: RabbitMQ's delivery limit dead-letters a poison message into the DLQ, listed as poison", async () => {
      const url = prefixedUrl("&queue_type=quorum&delivery_limit=2");
      urls.push(url);
      const broker = open(url);
      expect(broker.limits.priorities).toBe(1);
      await broker.publish("poison", [message("bad")]);
      const counts: number[] = [];
      // Each consumer takes the message and dies without settling it: three deliveries, then the
      // broker's limit (2 returns) moves it to the DLQ by itself.
      for (let i = 0; i < 3; i++) {
        const doomed = openRabbitBroker(url);
        const inbox = new Inbox();
        await doomed.consume(["poison"], { prefetch: 1, leaseMs: 1_000 }, inbox.push);
        counts.push((await inbox.next(5_000, `delivery ${i + 1}`)).deliveryCount);
        await doomed.close();
      }
      expect(counts).toEqual([1, 2, 3]);
      const listed = await pollUntil(
        async () => {
          const page = await broker.deadLetters("poison").list({ limit: 10 });
          return page.entries.length > 0 ? page.entries : undefined;
        },
        { timeoutMs: 10_000, what: "the dead-lettered poison message" },
      );
      expect(listed.map((e) => [e.id, e.reason])).toEqual([["bad", "poison"]]);
      expect(listed[0]?.detail).toContain("x-delivery-limit");
    });

    it("a lost consumer connection: settles of its deliveries are dropped, the subscription comes back by itself", async () => {
      const url = prefixedUrl();
      urls.push(url);
      const broker = open(url);
      const inbox = new Inbox();
      await broker.consume(["lossy"], { prefetch: 5, leaseMs: 1_000 }, inbox.push);
      await broker.publish("lossy", [message("m1"), message("m2")]);
      const held = [await inbox.next(5_000), await inbox.next(5_000)];
      const prefix = new URL(url).searchParams.get("prefix") ?? "";
      await closeConnections(`gotaskq consumer ${prefix}`);

      // No restart: the subscription reconnects by itself and the messages come back, counted.
      const again = [
        await inbox.next(15_000, "m1 or m2 after the reconnect"),
        await inbox.next(15_000, "the other one"),
      ];
      expect(again.map((d) => [d.id, d.deliveryCount]).sort()).toEqual([
        ["m1", 2],
        ["m2", 2],
      ]);
      // The old channel died with the connection and RabbitMQ requeued both: an ack of the old
      // delivery is refused (the new holder owns the message), a release has nothing left to do.
      const ackOfDead = held.find((d) => d.id === "m1");
      const releaseOfDead = held.find((d) => d.id === "m2");
      await expect(ackOfDead?.ack()).rejects.toMatchObject({ code: "conflict" });
      await expect(releaseOfDead?.release()).resolves.toBeUndefined();
      await Promise.all(again.map((d) => d.ack()));
      await pollUntil(
        async () => {
          const s = await broker.stats("lossy");
          return s.ready + s.inFlight === 0;
        },
        { timeoutMs: 5_000, what: "an empty queue" },
      );
    });

    it("a queue deleted on the broker: the publish that finds it gone fails, then both sides declare it again", async () => {
      const url = prefixedUrl();
      urls.push(url);
      const broker = open(url);
      const inbox = new Inbox();
      await broker.consume(["gone"], { prefetch: 5, leaseMs: 1_000 }, inbox.push);
      await broker.publish("gone", [message("before")]);
      await (await inbox.next(5_000)).ack();

      // A client that only publishes: the publish that finds its queue deleted fails (mandatory).
      const publisher = open(url);
      await publisher.publish("gone-quiet", [message("first")]);
      await deleteQueues(url, ["gone", "gone-quiet"]);
      await expect(publisher.publish("gone-quiet", [message("lost?")])).rejects.toMatchObject({
        code: "unavailable",
        message: expect.stringContaining("could not route"),
      });
      await publisher.publish("gone-quiet", [message("declared again")]);
      expect(await publisher.stats("gone-quiet")).toMatchObject({ ready: 1 });

      // Unroutable now (mandatory): refused as unavailable, never silently dropped; a retry
      // declares the queue again.
      const failures: string[] = [];
      await pollUntil(
        async () => {
          try {
            await broker.publish("gone", [message("after")]);
            return true;
          } catch (error) {
            failures.push((error as { code: string }).code);
            return false;
          }
        },
        { timeoutMs: 10_000, what: "a publish to the declared-again queue", intervalMs: 100 },
      );
      expect(failures.every((code) => code === "unavailable")).toBe(true);
      const after = await inbox.next(15_000, "the message published after the deletion");
      expect(after.id).toBe("after");
      await after.ack();
    });

    it("a retry whose next attempt cannot be stored gives the message back at once, counted", async () => {
      const url = prefixedUrl();
      urls.push(url);
      const broker = open(url);
      const inbox = new Inbox();
      await broker.consume(["fragile"], { prefetch: 1, leaseMs: 1_000 }, inbox.push);
      // A delayed message declares the ladder; then an operator deletes part of it.
      await broker.publish("fragile", [message("later", { delayMs: 3_600_000 }), message("m")]);
      const first = await inbox.next(5_000);
      const admin = await amqp.connect(AMQP);
      try {
        const ch = await admin.createChannel();
        await ch.deleteExchange(broker.names.delayExchange(10));
        await ch.deleteExchange(broker.names.ladderMarker);
      } finally {
        await admin.close();
      }
      // 1,500 ms enters the ladder at bit 10: the publish fails, the message is not lost.
      await expect(first.retry(text("m attempt 2"), 1_500)).rejects.toMatchObject({
        code: "unavailable",
      });
      const again = await inbox.next(5_000, "the message given back");
      expect([again.id, read(again.body), again.deliveryCount]).toEqual(["m", "m", 2]);
      // The ladder is declared again: the next retry goes through it.
      await again.retry(text("m attempt 2"), 1_500);
      const retried = await inbox.next(10_000, "the retried message");
      expect([retried.id, read(retried.body)]).toEqual(["m", "m attempt 2"]);
      await retried.ack();
    });

    it("reports an unreachable broker as unavailable at once, naming it", async () => {
      const broker = open(`amqp://guest:guest@127.0.0.1:1?prefix=x.`);
      await expect(broker.publish("q", [message("m")])).rejects.toMatchObject({
        code: "unavailable",
        message: expect.stringContaining("127.0.0.1:1"),
      });
      await expect(broker.ping()).rejects.toMatchObject({ code: "unavailable" });
    });
  });

  describe("rabbitmq faults", () => {
    it("kill -9 of a worker with 50 tasks in flight loses none", { timeout: 120_000 }, async () => {
      const url = prefixedUrl();
      const box = new Sandbox({ GOTASKQ_BROKER_URL: url, GOTASKQ_CONCURRENCY: "50" });
      const broker = openRabbitBroker(url);
      const tracking = await openTracking(box);
      try {
        const { ids, finished } = await killNine(
          devSleepScenario(
            { box, broker, tracking, count: 50 },
            { started: 30_000, finished: 60_000 },
          ),
        );
        // Printed under the name the notes quote for RabbitMQ: a task delivered again is a duplicate.
        const { redelivered, ...delivered } = trackedCounts(ids, finished);
        const counts = { ...delivered, duplicated: redelivered };
        console.log("rabbitmq kill -9 counts", counts);
        expect(counts.lost).toBe(0);
        // Every task was running when the worker died: each ran again, counted as delivery 2.
        expect(counts.duplicated).toBe(50);
        expect(await broker.stats("default")).toMatchObject({
          ready: 0,
          delayed: 0,
          deadLettered: 0,
        });
      } finally {
        await box.cleanup();
        await tracking.close();
        await broker.close();
        await destroy(url).catch(() => undefined);
      }
    });

    it("stop_app + start_app during 2,000 submissions: 503 while down, 0 lost, workers recover", {
      timeout: 300_000,
    }, async () => {
      const url = prefixedUrl();
      const box = new Sandbox({
        GOTASKQ_BROKER_URL: url,
        GOTASKQ_API_KEYS: ADMIN_KEY,
        GOTASKQ_RATE_LIMIT_PER_SECOND: "100000",
        GOTASKQ_RATE_LIMIT_BURST: "100000",
        GOTASKQ_LOG_LEVEL: "error",
      });
      const tracking = await openTracking(box);
      let stopped = false;
      try {
        const dev = await box.start(["dev", "--concurrency", "16"], {
          readyText: "Stop with Ctrl+C",
        });
        const restUrl = /REST:\s+(http:\/\/\S+)/.exec(dev.output())?.[1];
        if (!restUrl) throw new Error(`no REST URL in:\n${dev.output()}`);

        const TOTAL = 2_000;
        const attempts: { sentAt: number; at: number; status: number; id?: string }[] = [];
        let next = 0;
        let window: { down: number; up: number } | undefined;
        let downAt: number | undefined;
        const submitter = async () => {
          while (next < TOTAL) {
            const i = next++;
            // While the broker is down, a steady trickle rather than a busy loop.
            if (downAt !== undefined && window === undefined) await sleep(20);
            const sentAt = Date.now();
            let status = 0;
            let id: string | undefined;
            try {
              const response = await fetch(`${restUrl}/v1/tasks`, {
                method: "POST",
                headers: {
                  authorization: `Bearer ${ADMIN_KEY}`,
                  "content-type": "application/json",
                },
                body: JSON.stringify({ function_key: "demo.echo", payload: { i } }),
              });
              status = response.status;
              const body = (await response.json()) as { id?: string };
              if (status === 202) id = body.id;
            } catch {
              status = -1;
            }
            attempts.push({ sentAt, at: Date.now(), status, ...(id ? { id } : {}) });
          }
        };
        const submitters = Array.from({ length: 8 }, submitter);

        await pollUntil(() => attempts.filter((a) => a.status === 202).length >= 500, {
          timeoutMs: 60_000,
          what: "500 accepted submissions before the outage",
        });
        stopped = true;
        await run("rabbitmqctl", ["stop_app"], { timeout: 60_000 });
        downAt = Date.now();
        await pollUntil(() => attempts.filter((a) => a.sentAt > (downAt ?? 0)).length >= 50, {
          timeoutMs: 30_000,
          what: "50 submissions while the broker is down",
        });
        const outage = { down: downAt, up: Date.now() };
        window = outage;
        await run("rabbitmqctl", ["start_app"], { timeout: 120_000 });
        await run("rabbitmqctl", ["await_startup"], { timeout: 120_000 });
        stopped = false;
        await Promise.all(submitters);

        const duringOutage = attempts.filter((a) => a.sentAt > outage.down && a.at < outage.up);
        const accepted = attempts.filter((a) => a.status === 202).map((a) => a.id as string);
        const unexpected = attempts.filter((a) => a.status !== 202 && a.status !== 503);
        expect(duringOutage.length).toBeGreaterThan(0);
        expect(duringOutage.filter((a) => a.status !== 503)).toEqual([]);
        expect(unexpected).toEqual([]);

        let records = await Promise.all(accepted.map((id) => tracking.get(id)));
        await eventually(
          async () => {
            records = await Promise.all(accepted.map((id) => tracking.get(id)));
            return records.every((r) => r?.status === "SUCCESS") ? true : undefined;
          },
          120_000,
          "every accepted task to reach SUCCESS after the broker came back",
        ).catch(() => undefined);
        const executed = records.filter((r) => r?.status === "SUCCESS").length;
        const counts = {
          submitted: TOTAL,
          accepted: accepted.length,
          refused_503: attempts.filter((a) => a.status === 503).length,
          refused_503_while_down: duringOutage.length,
          executed,
          lost: accepted.length - executed,
          duplicated: records.filter((r) => (r?.deliveryCount ?? 1) > 1).length,
        };
        console.log("rabbitmq stop_app/start_app counts", counts);
        expect(counts.lost).toBe(0);
        // The same dev process (never restarted) ran the tasks accepted after the outage.
        expect(dev.exitCode).toBeNull();
      } finally {
        if (stopped) {
          await run("rabbitmqctl", ["start_app"], { timeout: 120_000 }).catch(() => undefined);
        }
        await run("rabbitmqctl", ["await_startup"], { timeout: 120_000 }).catch(() => undefined);
        await box.cleanup();
        await tracking.close();
        await destroy(url).catch(() => undefined);
      }
    });
  });
});

/** Deletes work queues behind GoTaskQ's back, as an operator could. */
async function deleteQueues(url: string, queues: string[]): Promise<void> {
  const prefix = new URL(url).searchParams.get("prefix") ?? "";
  const admin = await amqp.connect(AMQP);
  try {
    const ch = await admin.createChannel();
    for (const queue of queues) await ch.deleteQueue(`${prefix}${queue}`);
  } finally {
    await admin.close();
  }
}

/** Closes the RabbitMQ connections whose name contains `marker` (ours only: named by prefix). */
async function closeConnections(marker: string): Promise<void> {
  const { stdout } = await run(
    "rabbitmqctl",
    ["list_connections", "pid", "client_properties", "--no-table-headers", "-q"],
    { timeout: 30_000 },
  );
  const pids = stdout
    .split("\n")
    .filter((line) => line.includes(marker))
    .map((line) => line.split("\t")[0] ?? "");
  expect(pids.length).toBeGreaterThan(0);
  for (const pid of pids) {
    await run("rabbitmqctl", ["close_connection", pid, "closed by a GoTaskQ test"], {
      timeout: 30_000,
    });
  }
}

async function openTracking(box: Sandbox): Promise<TrackingStore> {
  const store = await openSqlTrackingStore(`sqlite://${path.join(box.dir, "tracking.db")}`);
  await store.migrate();
  return store;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
