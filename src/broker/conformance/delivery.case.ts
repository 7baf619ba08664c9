import { expect } from "vitest";
import type { Broker, Delivery, QueueStats } from "../broker.js";
import type { BrokerCase, BrokerCaseContext, BrokerCaseName } from "./case-list.case.js";
import { Inbox, message, pollUntil, read, seeded } from "./inbox.case.js";

// Conformance cases for getting messages through: durability across clients, exclusive delivery,
// ack, multi-queue subscriptions, the prefetch bound, a 10k batch and the size limit.

const EMPTY = { ready: 0, inFlight: 0, delayed: 0, deadLettered: 0 };

function counts(stats: QueueStats): Omit<QueueStats, "queue"> {
  const { queue: _queue, ...rest } = stats;
  return rest;
}

/** Waits until the queue's stats equal `expected`; stats may lag behind settles on some brokers. */
export async function expectStats(
  broker: Broker,
  queue: string,
  expected: Omit<QueueStats, "queue">,
): Promise<void> {
  let last: Omit<QueueStats, "queue"> | undefined;
  try {
    await pollUntil(
      async () => {
        last = counts(await broker.stats(queue));
        return JSON.stringify(last) === JSON.stringify(expected);
      },
      { timeoutMs: 5_000, what: `stats of ${queue}`, intervalMs: 25 },
    );
  } catch {
    expect(last).toEqual(expected);
  }
}

/** Consumes until `total` distinct ids were acked, counting how often each id was delivered. */
async function drainCounting(
  clients: Broker[],
  queue: string,
  context: BrokerCaseContext,
  options: { prefetch: number; total: number; timeoutMs: number; publish: () => Promise<void> },
): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const failures: unknown[] = [];
  for (const client of clients) {
    await client.consume(
      [queue],
      { prefetch: options.prefetch, leaseMs: context.leaseMs * 10 },
      (d) => {
        seen.set(d.id, (seen.get(d.id) ?? 0) + 1);
        d.ack().catch((error: unknown) => failures.push(error));
      },
    );
  }
  await options.publish();
  await pollUntil(() => seen.size >= options.total, {
    timeoutMs: options.timeoutMs,
    what: `${options.total} distinct deliveries (got ${seen.size})`,
    intervalMs: 20,
  });
  expect(failures).toEqual([]);
  return seen;
}

function expectEachOnce(seen: Map<string, number>, ids: string[]): void {
  const duplicated = [...seen].filter(([, n]) => n !== 1);
  expect(duplicated).toEqual([]);
  expect([...seen.keys()].sort()).toEqual([...ids].sort());
}

export const DELIVERY_CASES = {
  "durable-publish": async (context) => {
    const publisher = await context.open();
    await publisher.publish(context.queue, [message("d1"), message("d2", { body: "two" })]);
    await publisher.close();

    const consumer = await context.open();
    const inbox = new Inbox();
    await consumer.consume([context.queue], { prefetch: 10, leaseMs: context.leaseMs }, inbox.push);
    const got = [await inbox.next(5_000), await inbox.next(5_000)];
    expect(got.map((d) => [d.id, read(d.body), d.deliveryCount, d.queue]).sort()).toEqual([
      ["d1", "d1", 1, context.queue],
      ["d2", "two", 1, context.queue],
    ]);
    await Promise.all(got.map((d) => d.ack()));
    await expectStats(consumer, context.queue, EMPTY);
  },

  "exclusive-delivery": async (context) => {
    const consumers = [await context.open(), await context.open(), await context.open()];
    const publisher = await context.open();
    const ids = Array.from({ length: 500 }, (_, i) => `x${i}`);
    const seen = await drainCounting(consumers, context.queue, context, {
      prefetch: 10,
      total: ids.length,
      timeoutMs: 20_000,
      publish: async () => {
        for (let i = 0; i < ids.length; i += 100) {
          await publisher.publish(
            context.queue,
            ids.slice(i, i + 100).map((id) => message(id)),
          );
        }
      },
    });
    await expectStats(publisher, context.queue, EMPTY);
    expectEachOnce(seen, ids);
  },

  "ack-removes": async (context) => {
    const broker = await context.open();
    const inbox = new Inbox();
    await broker.consume([context.queue], { prefetch: 1, leaseMs: context.leaseMs }, inbox.push);
    await broker.publish(context.queue, [message("a1")]);
    const delivery = await inbox.next(5_000);
    await delivery.ack();
    await expectStats(broker, context.queue, EMPTY);
    expect(await inbox.nothingWithin(context.leaseMs * 2)).toBeUndefined();
  },

  "several-queues": async (context) => {
    const broker = await context.open();
    const [first, second] = [`${context.queue}-a`, `${context.queue}-b`];
    await broker.publish(first, [message("qa")]);
    await broker.publish(second, [message("qb")]);
    const inbox = new Inbox();
    await broker.consume([first, second], { prefetch: 5, leaseMs: context.leaseMs }, inbox.push);
    const got = [await inbox.next(5_000), await inbox.next(5_000)];
    expect(got.map((d) => `${d.queue}/${d.id}`).sort()).toEqual([`${first}/qa`, `${second}/qb`]);
    await Promise.all(got.map((d) => d.ack()));
    expect(await broker.queues()).toEqual(expect.arrayContaining([first, second]));
  },

  prefetch: async (context) => {
    const broker = await context.open();
    const random = seeded(7);
    // Two subscriptions on one client, each with its own bound, holding deliveries for 0–3 ms.
    const subscriptions = [
      { prefetch: 4, held: 0, most: 0 },
      { prefetch: 2, held: 0, most: 0 },
    ];
    let done = 0;
    for (const s of subscriptions) {
      await broker.consume(
        [context.queue],
        { prefetch: s.prefetch, leaseMs: context.leaseMs * 10 },
        (d) => {
          s.held++;
          s.most = Math.max(s.most, s.held);
          setTimeout(
            () => {
              s.held--;
              void d.ack().then(() => done++);
            },
            Math.floor(random() * 4),
          );
        },
      );
    }
    const ids = Array.from({ length: 200 }, (_, i) => `p${i}`);
    await broker.publish(
      context.queue,
      ids.map((id) => message(id)),
    );
    await pollUntil(() => done === ids.length, { timeoutMs: 15_000, what: "200 acks" });
    for (const s of subscriptions) expect(s.most).toBeLessThanOrEqual(s.prefetch);
    expect(subscriptions[0]?.most).toBeGreaterThan(1);
  },

  "batch-10k": async (context) => {
    const consumer = await context.open();
    const publisher = await context.open();
    const ids = Array.from({ length: 10_000 }, (_, i) => `b${i}`);
    const seen = await drainCounting([consumer], context.queue, context, {
      prefetch: 100,
      total: ids.length,
      timeoutMs: 25_000,
      publish: async () => {
        for (let i = 0; i < ids.length; i += 1_000) {
          await publisher.publish(
            context.queue,
            ids.slice(i, i + 1_000).map((id) => message(id)),
          );
        }
      },
    });
    await expectStats(publisher, context.queue, EMPTY);
    expectEachOnce(seen, ids);
  },

  oversize: async (context) => {
    const broker = await context.open();
    const limit = broker.limits.maxMessageBytes;
    const big = { id: "big", body: new Uint8Array(limit + 1), priority: 5, delayMs: 0 };
    await expect(broker.publish(context.queue, [big])).rejects.toMatchObject({
      code: "invalid_argument",
    });
    await expect(broker.publish(context.queue, [message("small"), big])).rejects.toMatchObject({
      code: "invalid_argument",
    });
    await expectStats(broker, context.queue, EMPTY);

    const exact = { id: "exact", body: new Uint8Array(limit).fill(65), priority: 5, delayMs: 0 };
    await broker.publish(context.queue, [exact]);
    const inbox = new Inbox();
    await broker.consume([context.queue], { prefetch: 1, leaseMs: context.leaseMs }, inbox.push);
    const delivery: Delivery = await inbox.next(5_000);
    expect(delivery.id).toBe("exact");
    expect(delivery.body.byteLength).toBe(limit);
    await delivery.ack();
  },
} satisfies Partial<Record<BrokerCaseName, BrokerCase>>;
