import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SERVICES, serviceAvailable } from "../../../test/support/services.js";
import type { Broker, Delivery } from "../broker.js";
import { Inbox, message, pollUntil } from "../conformance/inbox.case.js";
import { QueueKeys } from "./keys.js";
import { type LossyProxy, startLossyProxy } from "./lossy-proxy.fixture.js";
import { openRedisBroker } from "./redis-broker.js";
import { deleteKeys, uniquePrefix } from "./test-namespace.fixture.js";

// A settle whose outcome is unknown (the connection dropped with the call in flight) is sent
// again once Redis answers, and the settle script tells "already settled" (the entry is gone)
// from "lease lost" (the entry is still there, held by another consumer or delivery). The
// connection drops at an exact point through a proxy in front of the Redis on 6379.

const available = await serviceAvailable("redis");
const url = SERVICES.redis.url;

describe.skipIf(!available)("redis broker: a settle whose reply was lost", () => {
  const queue = "resend";
  const cleanups: (() => Promise<void>)[] = [];
  let prefix: string;
  let raw: Redis;
  let lane: string;
  let proxy: LossyProxy;

  beforeAll(() => {
    raw = new Redis(url);
  });
  afterAll(() => {
    raw.disconnect();
  });

  const setUp = async () => {
    prefix = uniquePrefix();
    lane = new QueueKeys(prefix, queue).lanes[5] as string;
    const { hostname, port } = new URL(url);
    proxy = await startLossyProxy({ host: hostname, port: Number(port || 6379) });
    const p = proxy;
    const pre = prefix;
    cleanups.push(
      () => p.close(),
      () => deleteKeys(url, pre),
    );
  };

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A broker behind the proxy, holding one delivery of a fresh message, and its entry id. */
  async function holdOne(
    leaseMs: number,
  ): Promise<{ broker: Broker; delivery: Delivery; entryId: string }> {
    await setUp();
    const broker = openRedisBroker({ url: proxy.url, prefix, warn: () => {} });
    cleanups.push(() => broker.close());
    await broker.publish(queue, [message("m1")]);
    const inbox = new Inbox();
    await broker.consume([queue], { prefetch: 1, leaseMs }, inbox.push);
    const delivery = await inbox.next(5_000);
    const [entry] = await raw.xrange(lane, "-", "+");
    if (!entry) throw new Error("the message's entry is missing");
    return { broker, delivery, entryId: entry[0] };
  }

  it("resolves an ack that was applied but whose reply was lost, once Redis answers again", async () => {
    const { broker, delivery, entryId } = await holdOne(10_000);
    const cut = proxy.cutAfterRequest(entryId);
    const acked = delivery.ack();
    await cut;
    // Redis applied the ack (the entry is gone); the client only lost the answer.
    expect(await raw.xlen(lane)).toBe(0);
    await expect(acked).resolves.toBeUndefined();
    expect(await broker.stats(queue)).toMatchObject({ ready: 0, inFlight: 0, delayed: 0 });
  });

  it("applies, once, an ack that was lost on its way to Redis", async () => {
    const { broker, delivery, entryId } = await holdOne(10_000);
    const cut = proxy.cutBeforeRequest(entryId);
    const acked = delivery.ack();
    await cut;
    expect(await raw.xlen(lane)).toBe(1);
    await expect(acked).resolves.toBeUndefined();
    expect(await raw.xlen(lane)).toBe(0);
    expect(await broker.stats(queue)).toMatchObject({ ready: 0, inFlight: 0 });
  });

  it("applies a lost retry once: one next attempt, delayed", async () => {
    const { broker, delivery, entryId } = await holdOne(10_000);
    const cut = proxy.cutAfterRequest(entryId);
    const retried = delivery.retry(new TextEncoder().encode("attempt 2"), 60_000);
    await cut;
    await expect(retried).resolves.toBeUndefined();
    expect(await broker.stats(queue)).toMatchObject({ ready: 0, inFlight: 0, delayed: 1 });
  });

  it("rejects a resent ack with lease lost when another consumer took the message meanwhile", async () => {
    // A reclaims what idled longer than its own lease: the first consumer (10 s) never takes
    // the message back from the second (300 ms), which takes it from the first.
    const { delivery, entryId } = await holdOne(10_000);
    proxy.refuseConnections(true);
    const cut = proxy.cutBeforeRequest(entryId);
    const acked = delivery.ack();
    acked.catch(() => {});
    await cut;
    // Redis is out of reach for the first consumer; its lease runs out and another takes over.
    const other = openRedisBroker({ url, prefix, warn: () => {} });
    cleanups.push(() => other.close());
    const otherInbox = new Inbox();
    await other.consume([queue], { prefetch: 1, leaseMs: 300 }, otherInbox.push);
    const taken = await otherInbox.next(5_000, "the message, reclaimed by the other consumer");
    expect(taken.deliveryCount).toBe(2);
    proxy.refuseConnections(false);
    await expect(acked).rejects.toMatchObject({ code: "conflict" });
    await taken.ack();
  });

  it("keeps 'lease lost' for a first ack of a message another consumer already settled", async () => {
    await setUp();
    const first = openRedisBroker({ url, prefix, warn: () => {} });
    const second = openRedisBroker({ url, prefix, warn: () => {} });
    cleanups.push(
      () => first.close(),
      () => second.close(),
    );
    await first.publish(queue, [message("m2")]);
    const inbox = new Inbox();
    await first.consume([queue], { prefetch: 1, leaseMs: 300 }, inbox.push);
    const stale = await inbox.next(5_000);
    const otherInbox = new Inbox();
    await second.consume([queue], { prefetch: 1, leaseMs: 300 }, otherInbox.push);
    await (await otherInbox.next(5_000, "the reclaimed message")).ack();
    expect(await raw.xlen(lane)).toBe(0);
    await expect(stale.ack()).rejects.toMatchObject({ code: "conflict" });
  });

  it("fails a lease extension whose reply was lost instead of resending it", async () => {
    const { delivery, entryId } = await holdOne(10_000);
    const cut = proxy.cutAfterRequest(entryId);
    const extended = delivery.extendLease(10_000);
    extended.catch(() => {});
    await cut;
    // The lease keeper's next extension is the retry; the delivery itself is still held.
    await expect(extended).rejects.toMatchObject({ code: "unavailable" });
    await pollUntil(
      () =>
        delivery.extendLease(10_000).then(
          () => true,
          () => false,
        ),
      {
        timeoutMs: 5_000,
        what: "an extension once Redis answers again",
      },
    );
    await delivery.ack();
  });

  it("gives up a resend that waits for Redis when the broker closes", async () => {
    const { broker, delivery, entryId } = await holdOne(10_000);
    proxy.refuseConnections(true);
    const cut = proxy.cutBeforeRequest(entryId);
    const acked = delivery.ack();
    acked.catch(() => {});
    await cut;
    const started = Date.now();
    await broker.close();
    await expect(acked).rejects.toMatchObject({ code: "unavailable" });
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
