import { expect } from "vitest";
import type { CoordinationStore } from "../coordination-store.js";
import type { CoordinationCase, CoordinationCaseName } from "./case-list.case.js";
import { EXPIRY_SLACK_MS, pollUntil, sleep } from "./waits.case.js";

// Conformance cases for expiry: everything the store holds lives for its TTL by the store's
// clock, then behaves as absent, so a dead or skewed client never blocks anyone for longer.

const TTL_MS = 250;
const HOUR = 3_600_000;
const MINUTE = 60_000;
/** How early (ms) an expiry may show against the test's own stopwatch: timer and clock granularity. */
const EARLY_MS = 25;

/** Waits until `key` reads as absent through `store`; returns the ms elapsed since `since`. */
async function expiredAfter(store: CoordinationStore, key: string, since: number): Promise<number> {
  await pollUntil(async () => (await store.read(key)) === undefined, {
    timeoutMs: TTL_MS + EXPIRY_SLACK_MS,
    what: `${key} to expire after ${TTL_MS} ms`,
  });
  return Date.now() - since;
}

export const EXPIRY_CASES = {
  "entry-expiry": async (context) => {
    const store = await context.open();
    const started = Date.now();
    await store.claim("claim", "a", TTL_MS);
    await store.put("record", "b", TTL_MS);
    await store.put("list:short", "c", TTL_MS);
    await store.put("list:long", "d", MINUTE);
    for (const key of ["claim", "record"]) {
      const entry = await store.read(key);
      expect(entry?.ttlMs, key).toBeGreaterThanOrEqual(1);
      expect(entry?.ttlMs, key).toBeLessThanOrEqual(TTL_MS);
    }
    expect(await expiredAfter(store, "claim", started)).toBeGreaterThanOrEqual(TTL_MS - EARLY_MS);
    expect(await expiredAfter(store, "record", started)).toBeGreaterThanOrEqual(TTL_MS - EARLY_MS);
    // Put after "record": on a loaded machine it can outlive it by a few milliseconds.
    await expiredAfter(store, "list:short", started);

    // Expired entries hold nothing: a claim takes the key, replace and release find nothing,
    // and a listing leaves them out.
    expect(await store.replace("record", "b", "b2", MINUTE)).toBe(false);
    expect(await store.release("record")).toBe(false);
    expect(await store.release("list:short", "c")).toBe(false);
    expect(await store.read("record")).toBeUndefined();
    expect(await store.claim("claim", "successor", MINUTE)).toEqual({ claimed: true });
    expect((await store.list("list:", { limit: 10 })).entries.map((e) => e.key)).toEqual([
      "list:long",
    ]);
  },

  "store-clock": async (context) => {
    const plain = await context.open();
    for (const skewMs of [HOUR, -HOUR]) {
      const skewed = await context.openSkewed(skewMs);
      const tag = skewMs > 0 ? "ahead" : "behind";
      const started = Date.now();
      await skewed.claim(`claim:${tag}`, "skewed", TTL_MS);
      await skewed.put(`record:${tag}`, "skewed", TTL_MS);
      expect(await skewed.acquireSlot(`slot:${tag}`, 1, "skewed", TTL_MS)).toEqual({
        acquired: true,
      });
      expect(await skewed.add(`count:${tag}`, 5, TTL_MS)).toBe(5);

      // Not shortened: live right after, through either client, with a TTL no longer than given.
      for (const store of [plain, skewed]) {
        const entry = await store.read(`claim:${tag}`);
        expect(entry?.ttlMs, `${tag}: claim TTL`).toBeGreaterThanOrEqual(1);
        expect(entry?.ttlMs, `${tag}: claim TTL`).toBeLessThanOrEqual(TTL_MS);
      }
      expect(await plain.acquireSlot(`slot:${tag}`, 1, "plain", MINUTE)).toMatchObject({
        acquired: false,
      });
      // Not extended: gone after the TTL through either client, and the slot is free again.
      expect(await expiredAfter(plain, `claim:${tag}`, started)).toBeGreaterThanOrEqual(
        TTL_MS - EARLY_MS,
      );
      await expiredAfter(skewed, `record:${tag}`, started);
      await pollUntil(
        async () => (await plain.acquireSlot(`slot:${tag}`, 1, "plain", MINUTE)).acquired,
        { timeoutMs: TTL_MS + EXPIRY_SLACK_MS, what: `the ${tag} client's slot to expire` },
      );
      // A counter has no read: wait out its TTL, then it starts again from 0.
      await sleep(Math.max(0, started + TTL_MS + 100 - Date.now()));
      expect(await skewed.add(`count:${tag}`, 1, MINUTE), `${tag}: counter`).toBe(1);
    }
  },

  "dead-holder": async (context) => {
    const holder = await context.open();
    const other = await context.open();
    const started = Date.now();
    expect(await holder.claim("job:lock", "holder", TTL_MS)).toEqual({ claimed: true });
    expect(await holder.acquireSlot("workers", 1, "holder", TTL_MS)).toEqual({ acquired: true });
    // The holder dies: its client goes away without releasing anything.
    await holder.close();

    expect(await other.claim("job:lock", "other", MINUTE)).toMatchObject({
      claimed: false,
      holder: { value: "holder" },
    });
    expect(await other.acquireSlot("workers", 1, "other", MINUTE)).toEqual({
      acquired: false,
      held: 1,
    });
    await pollUntil(async () => (await other.claim("job:lock", "other", MINUTE)).claimed, {
      timeoutMs: TTL_MS + EXPIRY_SLACK_MS,
      what: "the dead holder's claim to expire",
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(TTL_MS - EARLY_MS);
    await pollUntil(async () => (await other.acquireSlot("workers", 1, "other", MINUTE)).acquired, {
      timeoutMs: TTL_MS + EXPIRY_SLACK_MS,
      what: "the dead holder's slot to expire",
    });
  },
} satisfies Partial<Record<CoordinationCaseName, CoordinationCase>>;
