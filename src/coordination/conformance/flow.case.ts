import { expect } from "vitest";
import type { CoordinationCase, CoordinationCaseName } from "./case-list.case.js";
import { EXPIRY_SLACK_MS, pollUntil, sleep } from "./waits.case.js";

// Conformance cases for flow control and counters: token buckets, leased semaphore slots and
// counters, each with its time behaviour (refill, lease expiry, TTL) at short, bounded scales.

const MINUTE = 60_000;
const LEASE_MS = 300;

export const FLOW_CASES = {
  "bucket-take": async (context) => {
    const store = await context.open();
    const rate = { limit: 5, intervalMs: MINUTE };
    const remaining: number[] = [];
    for (let i = 0; i < 5; i++) {
      const got = await store.takeTokens("api", rate);
      remaining.push(got.taken ? got.remaining : -1);
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    // One token comes back every intervalMs / limit = 12 s.
    const refused = await store.takeTokens("api", rate);
    expect(refused.taken).toBe(false);
    if (refused.taken) return;
    expect(refused.retryAfterMs).toBeGreaterThan(11_000);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(12_000);

    // Several at once: all or none.
    expect(await store.takeTokens("batch", rate, 3)).toEqual({ taken: true, remaining: 2 });
    const short = await store.takeTokens("batch", rate, 3);
    expect(short.taken).toBe(false);
    if (!short.taken) {
      expect(short.retryAfterMs).toBeGreaterThan(11_000);
      expect(short.retryAfterMs).toBeLessThanOrEqual(12_000);
    }
    expect(await store.takeTokens("batch", rate, 2)).toEqual({ taken: true, remaining: 0 });
    expect(await store.takeTokens("whole", rate, 5)).toEqual({ taken: true, remaining: 0 });
  },

  "bucket-refill": async (context) => {
    const store = await context.open();
    const other = await context.open();
    const rate = { limit: 2, intervalMs: 300 };
    expect(await store.takeTokens("r", rate, 2)).toEqual({ taken: true, remaining: 0 });
    const refused = await other.takeTokens("r", rate);
    expect(refused.taken).toBe(false);
    const retryAfterMs = refused.taken ? 0 : refused.retryAfterMs;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(150);
    await sleep(retryAfterMs);
    await pollUntil(async () => (await other.takeTokens("r", rate)).taken, {
      timeoutMs: EXPIRY_SLACK_MS,
      what: "a token to come back",
    });
    // Idle for more than an interval: full again, and never fuller than the limit.
    await sleep(rate.intervalMs * 2);
    expect(await store.takeTokens("r", rate)).toEqual({ taken: true, remaining: 1 });
    expect(await store.takeTokens("r", rate)).toEqual({ taken: true, remaining: 0 });
    expect(await store.takeTokens("r", rate)).toMatchObject({ taken: false });
  },

  "semaphore-limit": async (context) => {
    const a = await context.open();
    const b = await context.open();
    expect(await a.acquireSlot("pool", 2, "a", MINUTE)).toEqual({ acquired: true });
    expect(await b.acquireSlot("pool", 2, "b", MINUTE)).toEqual({ acquired: true });
    expect(await b.acquireSlot("pool", 2, "c", MINUTE)).toEqual({ acquired: false, held: 2 });
    await a.releaseSlot("pool", "a");
    expect(await b.acquireSlot("pool", 2, "c", MINUTE)).toEqual({ acquired: true });
    expect(await a.acquireSlot("pool", 2, "d", MINUTE)).toEqual({ acquired: false, held: 2 });
    // Releasing a slot one does not hold changes nothing.
    await a.releaseSlot("pool", "d");
    await a.releaseSlot("pool", "a");
    expect(await a.acquireSlot("pool", 2, "d", MINUTE)).toEqual({ acquired: false, held: 2 });
    await b.releaseSlot("pool", "b");
    await b.releaseSlot("pool", "c");
    expect(await a.acquireSlot("pool", 2, "d", MINUTE)).toEqual({ acquired: true });
    // Another semaphore is separate.
    expect(await a.acquireSlot("other", 1, "a", MINUTE)).toEqual({ acquired: true });
  },

  "semaphore-renew": async (context) => {
    const a = await context.open();
    const b = await context.open();
    expect(await a.acquireSlot("lease", 1, "a", LEASE_MS)).toEqual({ acquired: true });
    // Kept for well over its lease by renewing (and by re-acquiring, which renews).
    for (let i = 0; i < 6; i++) {
      await sleep(LEASE_MS / 3);
      if (i % 2 === 0) expect(await a.renewSlot("lease", "a", LEASE_MS)).toBe(true);
      else expect(await a.acquireSlot("lease", 1, "a", LEASE_MS)).toEqual({ acquired: true });
      expect(await b.acquireSlot("lease", 1, "b", LEASE_MS)).toEqual({ acquired: false, held: 1 });
    }
    expect(await b.renewSlot("lease", "b", LEASE_MS)).toBe(false);
    // Not renewed: the lease runs out and the slot is free for someone else.
    await pollUntil(async () => (await b.acquireSlot("lease", 1, "b", MINUTE)).acquired, {
      timeoutMs: LEASE_MS + EXPIRY_SLACK_MS,
      what: "a's unrenewed lease to expire",
    });
    expect(await a.renewSlot("lease", "a", LEASE_MS)).toBe(false);
    expect(await a.acquireSlot("lease", 1, "a", LEASE_MS)).toEqual({ acquired: false, held: 1 });
  },

  counter: async (context) => {
    const store = await context.open();
    const other = await context.open();
    expect(await store.add("hits", 1, MINUTE)).toBe(1);
    expect(await other.add("hits", 5, MINUTE)).toBe(6);
    expect(await store.add("hits", -10, MINUTE)).toBe(-4);
    expect(await store.add("hits", 0, MINUTE)).toBe(-4);
    expect(await store.add("misses", -2, MINUTE)).toBe(-2);

    // A counter lives ttlMs from its latest change: each add restarts it.
    const ttlMs = 400;
    expect(await store.add("window", 1, ttlMs)).toBe(1);
    await sleep(250);
    expect(await store.add("window", 1, ttlMs)).toBe(2);
    await sleep(250);
    expect(await store.add("window", 1, ttlMs)).toBe(3);
    // Then forgotten: it starts again from 0.
    await sleep(ttlMs + 150);
    expect(await other.add("window", 1, ttlMs)).toBe(1);
  },
} satisfies Partial<Record<CoordinationCaseName, CoordinationCase>>;
