import { expect } from "vitest";
import { LeaseLostError } from "../broker.js";
import type { BrokerCase, BrokerCaseName } from "./case-list.case.js";
import { expectStats } from "./delivery.case.js";
import { Inbox, message, read, text } from "./inbox.case.js";

// Conformance cases for leases: a dead consumer's work comes back, a lost lease cannot settle what
// someone else now holds, extension keeps a long task invisible, release hands a message back.

const EMPTY = { ready: 0, inFlight: 0, delayed: 0, deadLettered: 0 };

export const LEASE_CASES = {
  "redelivery-after-death": async (context) => {
    const doomed = await context.open();
    const survivor = await context.open();
    await doomed.publish(context.queue, [message("r1", { body: "payload" })]);
    const first = new Inbox();
    const subscription = await doomed.consume(
      [context.queue],
      { prefetch: 1, leaseMs: context.leaseMs },
      first.push,
    );
    const taken = await first.next(5_000);
    expect(taken.deliveryCount).toBe(1);
    // The consumer dies holding the delivery: it never settles, and its client goes away.
    await subscription.close();
    await doomed.close();

    const second = new Inbox();
    await survivor.consume([context.queue], { prefetch: 1, leaseMs: context.leaseMs }, second.push);
    const again = await second.next(context.leaseMs * 5 + 3_000, "the redelivery");
    expect([again.id, read(again.body), again.deliveryCount]).toEqual(["r1", "payload", 2]);
    await again.ack();
    await expectStats(survivor, context.queue, EMPTY);
  },

  "lease-lost": async (context) => {
    const slow = await context.open();
    const other = await context.open();
    const slowInbox = new Inbox();
    await slow.consume([context.queue], { prefetch: 1, leaseMs: context.leaseMs }, slowInbox.push);

    // A lease that expired while nobody else wanted the message is still its holder's.
    await slow.publish(context.queue, [message("kept")]);
    const kept = await slowInbox.next(5_000);
    await new Promise((resolve) => setTimeout(resolve, context.leaseMs * 1.5));
    await kept.ack();

    await slow.publish(context.queue, [message("lost")]);
    const stale = await slowInbox.next(5_000);
    const otherInbox = new Inbox();
    await other.consume(
      [context.queue],
      { prefetch: 1, leaseMs: context.leaseMs * 10 },
      otherInbox.push,
    );
    const fresh = await otherInbox.next(context.leaseMs * 5 + 3_000, "the redelivery");
    expect([fresh.id, fresh.deliveryCount]).toEqual(["lost", 2]);

    await expect(stale.extendLease(context.leaseMs)).rejects.toBeInstanceOf(LeaseLostError);
    await expect(stale.ack()).rejects.toMatchObject({ code: "conflict" });
    // The stale ack changed nothing: the new holder still owns and settles the message.
    await expectStats(other, context.queue, { ...EMPTY, inFlight: 1 });
    await fresh.ack();
    await expectStats(other, context.queue, EMPTY);
    expect(await slowInbox.nothingWithin(context.leaseMs)).toBeUndefined();
  },

  "lease-extension": async (context) => {
    const worker = await context.open();
    const rival = await context.open();
    const inbox = new Inbox();
    await worker.consume([context.queue], { prefetch: 1, leaseMs: context.leaseMs }, inbox.push);
    await worker.publish(context.queue, [message("long")]);
    const delivery = await inbox.next(5_000);
    const rivalInbox = new Inbox();
    await rival.consume(
      [context.queue],
      { prefetch: 1, leaseMs: context.leaseMs },
      rivalInbox.push,
    );

    // Extend every third of a lease for more than three leases, as a worker's heartbeat would.
    const until = Date.now() + context.leaseMs * 3.5;
    while (Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, context.leaseMs / 3));
      await delivery.extendLease(context.leaseMs);
    }
    await delivery.ack();
    expect(rivalInbox.received).toEqual([]);
    expect(inbox.received).toHaveLength(1);
    expect(await rivalInbox.nothingWithin(context.leaseMs + 100)).toBeUndefined();
  },

  release: async (context) => {
    const broker = await context.open();
    const inbox = new Inbox();
    await broker.consume(
      [context.queue],
      { prefetch: 1, leaseMs: context.leaseMs * 10 },
      inbox.push,
    );
    await broker.publish(context.queue, [message("rel")]);
    const first = await inbox.next(5_000);
    const releasedAt = Date.now();
    await first.release();
    // Well within the lease: a release is not a lease expiry.
    const again = await inbox.next(context.leaseMs * 5, "the released message");
    expect(Date.now() - releasedAt).toBeLessThan(context.leaseMs * 5);
    expect([again.id, again.deliveryCount]).toEqual(["rel", 1]);
    await again.retry(text("rel-2"), 0);
    const retried = await inbox.next(5_000, "the retried message");
    expect([retried.id, read(retried.body), retried.deliveryCount]).toEqual(["rel", "rel-2", 1]);
    await retried.ack();
    await expect(retried.ack()).rejects.toMatchObject({ code: "conflict" });
    await expectStats(broker, context.queue, EMPTY);
  },
} satisfies Partial<Record<BrokerCaseName, BrokerCase>>;
