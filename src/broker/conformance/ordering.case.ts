import { expect } from "vitest";
import type { Broker, Delivery } from "../broker.js";
import type { BrokerCase, BrokerCaseContext, BrokerCaseName } from "./case-list.case.js";
import { expectStats } from "./delivery.case.js";
import { Inbox, message, read, seeded, text } from "./inbox.case.js";

// Conformance cases for when and in which order messages arrive: delays (publish and retry) are
// honoured without blocking what comes after them, and waiting messages leave by priority, in
// publish order within one priority.

/** Timers may fire a millisecond or two early relative to `Date.now()`. */
const CLOCK_SLACK_MS = 5;

/** Consumes one at a time (prefetch 1, ack before the next) and returns the ids in order. */
async function consumeInOrder(
  broker: Broker,
  context: BrokerCaseContext,
  total: number,
): Promise<string[]> {
  const order: string[] = [];
  const inbox = new Inbox();
  await broker.consume([context.queue], { prefetch: 1, leaseMs: context.leaseMs * 10 }, inbox.push);
  for (let i = 0; i < total; i++) {
    const delivery: Delivery = await inbox.next(5_000, `delivery ${i + 1} of ${total}`);
    order.push(delivery.id);
    await delivery.ack();
  }
  return order;
}

export const ORDERING_CASES = {
  "retry-delay": async (context) => {
    const broker = await context.open();
    const inbox = new Inbox();
    await broker.consume([context.queue], { prefetch: 5, leaseMs: context.leaseMs }, inbox.push);
    await broker.publish(context.queue, [message("t1")]);
    const first = await inbox.next(5_000);
    const retriedAt = Date.now();
    await first.retry(text("t1 attempt 2"), 1_500);
    await broker.publish(context.queue, [message("t2")]);

    const later = await inbox.next(5_000, "the message published after the retry");
    expect(later.id).toBe("t2");
    await later.ack();
    await expectStats(broker, context.queue, {
      ready: 0,
      inFlight: 0,
      delayed: 1,
      deadLettered: 0,
    });

    const retried = await inbox.next(5_000, "the retried message");
    expect(Date.now() - retriedAt).toBeGreaterThanOrEqual(1_500 - CLOCK_SLACK_MS);
    // The next attempt is a new message: its delivery count starts again.
    expect([retried.id, read(retried.body), retried.deliveryCount]).toEqual([
      "t1",
      "t1 attempt 2",
      1,
    ]);
    await retried.ack();
  },

  "delayed-publish": async (context) => {
    const broker = await context.open();
    const inbox = new Inbox();
    await broker.consume([context.queue], { prefetch: 5, leaseMs: context.leaseMs }, inbox.push);
    const publishedAt = Date.now();
    await broker.publish(context.queue, [
      message("later", { delayMs: 800 }),
      message("now", { priority: 0 }),
    ]);
    const first = await inbox.next(5_000);
    expect(first.id).toBe("now");
    await first.ack();
    const delayed = await inbox.next(5_000, "the delayed message");
    expect(delayed.id).toBe("later");
    expect(Date.now() - publishedAt).toBeGreaterThanOrEqual(800 - CLOCK_SLACK_MS);
    await delayed.ack();
  },

  "priority-order": async (context) => {
    const broker = await context.open();
    const random = seeded(42);
    const batches = 3;
    const perBatch = 20;
    for (let b = 0; b < batches; b++) {
      await broker.publish(
        context.queue,
        Array.from({ length: perBatch }, (_, i) => {
          const priority = Math.floor(random() * 10);
          return message(`p${priority}-${b * perBatch + i}`, { priority });
        }),
      );
    }
    const order = await consumeInOrder(broker, context, batches * perBatch);
    const priorities = order.map((id) => Number(id.slice(1, id.indexOf("-"))));
    const sorted = [...priorities].sort((a, b) => b - a);
    expect(priorities).toEqual(sorted);
  },

  "fifo-within-priority": async (context) => {
    const broker = await context.open();
    const cycle = [2, 7, 5];
    const published = Array.from({ length: 30 }, (_, i) => ({ i, priority: cycle[i % 3] ?? 5 }));
    await broker.publish(
      context.queue,
      published.map(({ i, priority }) => message(`f${i}`, { priority })),
    );
    const order = await consumeInOrder(broker, context, published.length);
    const expected = [7, 5, 2].flatMap((priority) =>
      published.filter((m) => m.priority === priority).map((m) => `f${m.i}`),
    );
    expect(order).toEqual(expected);
  },
} satisfies Partial<Record<BrokerCaseName, BrokerCase>>;
