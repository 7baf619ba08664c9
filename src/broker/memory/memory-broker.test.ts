import { afterEach, describe, expect, it, vi } from "vitest";
import type { ControlCommand, Delivery } from "../broker.js";
import { describeBrokerConformance } from "../conformance/broker.case.js";
import { message } from "../conformance/inbox.case.js";
import { createMemoryBroker, createMemoryNamespace } from "./memory-broker.js";

// The memory broker runs the whole conformance suite: it is what every test above the broker seam
// relies on, so it must behave like the durable brokers. Clients of one harness share a namespace,
// which plays the role of the server that several worker processes connect to.

describeBrokerConformance("memory", async () => {
  const namespace = createMemoryNamespace();
  return {
    open: async () => createMemoryBroker({ namespace }),
    cleanup: async () => namespace.close(),
  };
});

describe("memory broker specifics", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("honours delays beyond setTimeout's 24.8-day ceiling", async () => {
    vi.useFakeTimers();
    const broker = createMemoryBroker();
    const got: Delivery[] = [];
    await broker.consume(["q"], { prefetch: 1, leaseMs: 1_000 }, (d) => got.push(d));
    await broker.publish("q", [message("month", { delayMs: 30 * 86_400_000 })]);
    await vi.advanceTimersByTimeAsync(25 * 86_400_000);
    expect(got).toEqual([]);
    expect(await broker.stats("q")).toMatchObject({ delayed: 1, ready: 0 });
    await vi.advanceTimersByTimeAsync(5 * 86_400_000);
    expect(got.map((d) => d.id)).toEqual(["month"]);
    await broker.close();
  });

  it("replays only revocations within the retention window of its clock", async () => {
    let now = 1_000_000;
    const broker = createMemoryBroker({ now: () => now, revocationRetentionMs: 60_000 });
    await broker.control.broadcast({ type: "revoke", taskId: "old", at: now });
    now += 50_000;
    await broker.control.broadcast({ type: "revoke", taskId: "recent", at: now });
    now += 20_000;
    const replayed: ControlCommand[] = [];
    await broker.control.subscribe((c) => replayed.push(c));
    expect(replayed).toEqual([{ type: "revoke", taskId: "recent", at: now - 20_000 }]);
    await broker.close();
  });

  it("lists only queues that were published to or consumed from", async () => {
    const broker = createMemoryBroker();
    await broker.stats("looked-at");
    await broker.publish("published", [message("m")]);
    await broker.consume(["consumed"], { prefetch: 1, leaseMs: 1_000 }, () => {});
    expect(await broker.queues()).toEqual(["consumed", "published"]);
    await broker.close();
  });
});
