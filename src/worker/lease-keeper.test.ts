import { afterEach, describe, expect, it } from "vitest";
import { deferred } from "../../test/support/worker-harness.js";
import type { Delivery } from "../broker/broker.js";
import { sleep } from "../core/lifecycle.js";
import { type HeldLease, LeaseKeeper } from "./lease-keeper.js";

// The lease keeper against a fake delivery: it only counts and answers `extendLease` calls.

const LEASE_MS = 60; // extended every 20 ms at most, on a 5 ms tick

class FakeDelivery implements Delivery {
  readonly id = "task-1";
  readonly queue = "default";
  readonly body = new Uint8Array();
  readonly deliveryCount = 1;
  /** `performance.now()` of each extendLease call. */
  readonly calls: number[] = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  constructor(private readonly answer: (call: number) => Promise<void> = async () => {}) {}

  extendLease(ms: number): Promise<void> {
    expect(ms).toBe(LEASE_MS);
    this.calls.push(performance.now());
    const count = this.calls.length;
    for (const w of this.waiters.filter((w) => w.count <= count)) w.resolve();
    this.waiters = this.waiters.filter((w) => w.count > count);
    return this.answer(count);
  }

  /** Resolves once extendLease was called `count` times. */
  called(count: number): Promise<void> {
    if (this.calls.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  ack = refuse;
  retry = refuse;
  deadLetter = refuse;
  release = refuse;
}

function refuse(): Promise<void> {
  return Promise.reject(new Error("not in this test"));
}

let keeper: LeaseKeeper;
const held: HeldLease[] = [];
afterEach(() => {
  for (const lease of held.splice(0)) keeper.release(lease);
});

describe("LeaseKeeper", () => {
  it("extends every held lease, at most leaseMs/3 apart, until it is released", async () => {
    keeper = new LeaseKeeper(LEASE_MS, () => {});
    const first = new FakeDelivery();
    const second = new FakeDelivery();
    held.push(keeper.hold(first), keeper.hold(second));
    await Promise.all([first.called(3), second.called(3)]);
    const gaps = first.calls.slice(1).map((at, i) => at - (first.calls[i] as number));
    // Never more often than every leaseMs/3 minus one tick (timers may fire a little early).
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(LEASE_MS / 3 - LEASE_MS / 12 - 2);
    for (const lease of held.splice(0)) keeper.release(lease);
    const after = first.calls.length + second.calls.length;
    await sleep(LEASE_MS);
    expect(first.calls.length + second.calls.length).toBe(after);
  });

  it("reports a failed extension and keeps extending", async () => {
    const failure = new Error("broker hiccup");
    const reported = deferred<[Delivery, unknown]>();
    keeper = new LeaseKeeper(LEASE_MS, (delivery, error) => reported.resolve([delivery, error]));
    const delivery = new FakeDelivery((call) =>
      call === 1 ? Promise.reject(failure) : Promise.resolve(),
    );
    held.push(keeper.hold(delivery));
    expect(await reported.promise).toEqual([delivery, failure]);
    await delivery.called(2);
  });

  it("never has two extensions of one delivery in flight", async () => {
    keeper = new LeaseKeeper(LEASE_MS, () => {});
    const slow = deferred();
    const delivery = new FakeDelivery((call) => (call === 1 ? slow.promise : Promise.resolve()));
    held.push(keeper.hold(delivery));
    await delivery.called(1);
    await sleep(LEASE_MS);
    expect(delivery.calls).toHaveLength(1);
    slow.resolve();
    await delivery.called(2);
  });
});
