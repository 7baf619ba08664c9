import { describe, expect, it } from "vitest";
import {
  createMemoryCoordinationStore,
  MemoryCoordinationServer,
} from "../../coordination/memory/memory-coordination-store.js";
import { LoginThrottle } from "./login-throttle.js";

// The login throttle on the memory coordination store: two throttles on one server play two API
// replicas; the server's clock is the store's clock that refills the buckets.

function cluster() {
  let now = 1_000_000;
  const server = new MemoryCoordinationServer({ now: () => now });
  return {
    advance: (ms: number) => {
      now += ms;
    },
    store: () => createMemoryCoordinationStore({ server, prefix: "test" }),
  };
}

describe("login throttle", () => {
  it("allows `burst` failures, then refuses with the wait until the next attempt", async () => {
    const c = cluster();
    const throttle = new LoginThrottle(c.store(), { name: "t", burst: 3, refillPerSecond: 0.5 });
    for (let i = 0; i < 3; i += 1) {
      expect(await throttle.retryAfterSeconds("ip:1")).toBe(0);
      await throttle.failed("ip:1");
    }
    expect(await throttle.retryAfterSeconds("ip:1")).toBe(2);
    expect(await throttle.retryAfterSeconds("ip:2")).toBe(0);
    c.advance(1_000);
    expect(await throttle.retryAfterSeconds("ip:1")).toBe(1);
    c.advance(1_000);
    expect(await throttle.retryAfterSeconds("ip:1")).toBe(0);
    // One guess per refill after the burst, not two.
    await throttle.failed("ip:1");
    expect(await throttle.retryAfterSeconds("ip:1")).toBe(2);
  });

  it("counts failures across replicas on one store", async () => {
    const c = cluster();
    const options = { name: "username", burst: 4, refillPerSecond: 1 / 12 };
    const a = new LoginThrottle(c.store(), options);
    const b = new LoginThrottle(c.store(), options);
    await a.failed("alice");
    await b.failed("alice");
    await a.failed("alice");
    expect(await b.retryAfterSeconds("alice")).toBe(0);
    await b.failed("alice");
    expect(await a.retryAfterSeconds("alice")).toBe(12);
    expect(await b.retryAfterSeconds("alice")).toBe(12);
    // A throttle of another name counts separately.
    const other = new LoginThrottle(c.store(), { ...options, name: "address" });
    expect(await other.retryAfterSeconds("alice")).toBe(0);
  });

  it("gives the whole burst back once the bucket has refilled", async () => {
    const c = cluster();
    const throttle = new LoginThrottle(c.store(), { name: "t", burst: 2, refillPerSecond: 1 });
    await throttle.failed("k");
    await throttle.failed("k");
    expect(await throttle.retryAfterSeconds("k")).toBe(1);
    c.advance(5_000);
    await throttle.failed("k");
    expect(await throttle.retryAfterSeconds("k")).toBe(0);
    await throttle.failed("k");
    expect(await throttle.retryAfterSeconds("k")).toBe(1);
  });

  it("keeps no key readable in the store: usernames may be mistyped passwords", async () => {
    const store = cluster().store();
    const throttle = new LoginThrottle(store, { name: "username", burst: 1, refillPerSecond: 1 });
    await throttle.failed("hunter2-typed-in-the-wrong-box");
    const { entries } = await store.list("", { limit: 10 });
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) expect(e.key).not.toContain("hunter2");
  });

  it("rejects with unavailable when the store is down", async () => {
    const store = cluster().store();
    const throttle = new LoginThrottle(store, { name: "t", burst: 1, refillPerSecond: 1 });
    await store.close();
    await expect(throttle.retryAfterSeconds("k")).rejects.toMatchObject({ code: "unavailable" });
    await expect(throttle.failed("k")).rejects.toThrow(/cannot record the failed login/);
  });

  it("refuses a burst or rate that cannot work, saying what to change", () => {
    const store = cluster().store();
    expect(() => new LoginThrottle(store, { name: "t", burst: 0, refillPerSecond: 1 })).toThrow(
      /burst must be an integer of at least 1 \(got 0\)/,
    );
    expect(() => new LoginThrottle(store, { name: "t", burst: 1, refillPerSecond: 0 })).toThrow(
      /refillPerSecond must be a positive number/,
    );
  });
});
