import { describe, expect, it } from "vitest";
import { TokenBucketLimiter } from "./rate-limiter.js";

// A token bucket per API key name, on a fake clock.

describe("TokenBucketLimiter", () => {
  it("allows a burst, then refills at the sustained rate and says when to retry", () => {
    let now = 0;
    const limiter = new TokenBucketLimiter({ ratePerSecond: 2, burst: 3, now: () => now });
    expect([1, 2, 3].map(() => limiter.take("a").ok)).toEqual([true, true, true]);
    expect(limiter.take("a")).toEqual({ ok: false, retryAfterSeconds: 1 });
    now += 500; // one token back
    expect(limiter.take("a").ok).toBe(true);
    expect(limiter.take("a").ok).toBe(false);
  });

  it("keeps one bucket per key", () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1, now: () => 0 });
    expect(limiter.take("a").ok).toBe(true);
    expect(limiter.take("a").ok).toBe(false);
    expect(limiter.take("b").ok).toBe(true);
  });

  it("rounds Retry-After up to whole seconds for slow rates", () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 0.1, burst: 1, now: () => 0 });
    limiter.take("a");
    expect(limiter.take("a")).toEqual({ ok: false, retryAfterSeconds: 10 });
  });

  it("bounds memory: refilled buckets are swept, and at most maxKeys are kept", () => {
    let now = 0;
    const limiter = new TokenBucketLimiter({
      ratePerSecond: 10,
      burst: 5,
      maxKeys: 100,
      now: () => now,
    });
    for (let i = 0; i < 1_000; i++) limiter.take(`k${i}`);
    expect(limiter.size).toBeLessThanOrEqual(101);
    now += 60_000;
    limiter.take("fresh");
    expect(limiter.size).toBe(1);
  });

  it("refuses nonsensical settings", () => {
    expect(() => new TokenBucketLimiter({ ratePerSecond: 0, burst: 1 })).toThrow(/ratePerSecond/);
    expect(() => new TokenBucketLimiter({ ratePerSecond: 1, burst: 0.5 })).toThrow(/burst/);
  });
});
