import { expect } from "vitest";
import type { CoordinationCase, CoordinationCaseName } from "./case-list.case.js";

// Conformance cases for keyed entries: claim-if-absent, records, compare-and-replace, release,
// listing and the value size limit. TTLs here are long (a minute): expiry has its own cases.

const MINUTE = 60_000;

export const ENTRY_CASES = {
  "claim-if-absent": async (context) => {
    const store = await context.open();
    expect(await store.claim("idem:a", "first", MINUTE)).toEqual({ claimed: true });
    const second = await store.claim("idem:a", "second", MINUTE);
    expect(second.claimed).toBe(false);
    if (second.claimed) return;
    expect(second.holder.value).toBe("first");
    expect(second.holder.ttlMs).toBeGreaterThan(MINUTE - 10_000);
    expect(second.holder.ttlMs).toBeLessThanOrEqual(MINUTE);
    expect(await store.read("idem:a")).toMatchObject({ value: "first" });
    // Another key is unaffected by the first.
    expect(await store.claim("idem:b", "other", MINUTE)).toEqual({ claimed: true });
  },

  "put-read": async (context) => {
    const store = await context.open();
    const other = await context.open();
    expect(await store.read("session:1")).toBeUndefined();
    await store.put("session:1", JSON.stringify({ user: "ada", é: "ü" }), MINUTE);
    const entry = await other.read("session:1");
    expect(entry?.value).toBe(JSON.stringify({ user: "ada", é: "ü" }));
    expect(entry?.ttlMs).toBeGreaterThan(MINUTE - 10_000);
    expect(entry?.ttlMs).toBeLessThanOrEqual(MINUTE);
    // put overwrites whatever was there, and its TTL too.
    await other.put("session:1", "", 5 * MINUTE);
    const replaced = await store.read("session:1");
    expect(replaced?.value).toBe("");
    expect(replaced?.ttlMs).toBeGreaterThan(4 * MINUTE);
    // A claim on a put key sees it as the holder.
    expect(await store.claim("session:1", "x", MINUTE)).toMatchObject({
      claimed: false,
      holder: { value: "" },
    });
  },

  replace: async (context) => {
    const store = await context.open();
    await store.claim("cron:tick", "v1", 1_000);
    expect(await store.replace("cron:tick", "v1", "v2", MINUTE)).toBe(true);
    const entry = await store.read("cron:tick");
    expect(entry?.value).toBe("v2");
    // The TTL restarted with the replacement's.
    expect(entry?.ttlMs).toBeGreaterThan(MINUTE - 10_000);
    // A stale expected value is refused and changes nothing.
    expect(await store.replace("cron:tick", "v1", "v3", MINUTE)).toBe(false);
    expect((await store.read("cron:tick"))?.value).toBe("v2");
    // An absent key holds nothing: replace neither succeeds nor creates it.
    expect(await store.replace("cron:none", "v1", "v2", MINUTE)).toBe(false);
    expect(await store.read("cron:none")).toBeUndefined();
  },

  release: async (context) => {
    const store = await context.open();
    await store.put("lock:a", "mine", MINUTE);
    expect(await store.release("lock:a")).toBe(true);
    expect(await store.read("lock:a")).toBeUndefined();
    expect(await store.release("lock:a")).toBe(false);
    expect(await store.claim("lock:a", "again", MINUTE)).toEqual({ claimed: true });

    // With an expected value: only the holder of that value removes it.
    await store.put("lock:b", "successor", MINUTE);
    expect(await store.release("lock:b", "mine")).toBe(false);
    expect((await store.read("lock:b"))?.value).toBe("successor");
    expect(await store.release("lock:b", "successor")).toBe(true);
    expect(await store.read("lock:b")).toBeUndefined();
    expect(await store.release("lock:b", "successor")).toBe(false);
  },

  "list-paging": async (context) => {
    const store = await context.open();
    // Written out of order; listed in key order (ASCII keys: byte, code unit and C collation
    // orders agree on them).
    const keys = ["s:e", "s:a", "s:c", "s:b", "s:d"];
    for (const key of keys) await store.put(key, `value of ${key}`, MINUTE);
    await store.put("t:a", "another prefix", MINUTE);
    await store.put("s", "shorter than the prefix", MINUTE);
    // Buckets, slots and counters are not entries, even under the same prefix.
    await store.add("s:counter", 1, MINUTE);
    await store.acquireSlot("s:slot", 1, "holder", MINUTE);
    await store.takeTokens("s:bucket", { limit: 5, intervalMs: MINUTE });

    const all = await store.list("s:", { limit: 100 });
    expect(all.entries.map((e) => e.key)).toEqual(["s:a", "s:b", "s:c", "s:d", "s:e"]);
    expect(all.nextAfter).toBeUndefined();
    expect(all.entries[0]?.value).toBe("value of s:a");
    expect(all.entries[0]?.ttlMs).toBeGreaterThan(MINUTE - 10_000);
    expect(all.entries[0]?.ttlMs).toBeLessThanOrEqual(MINUTE);

    // Paging: 2 + 2 + 1, each page continuing after the previous one's last key.
    const sizes: number[] = [];
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 10; page++) {
      const got = await store.list("s:", after === undefined ? { limit: 2 } : { limit: 2, after });
      sizes.push(got.entries.length);
      seen.push(...got.entries.map((e) => e.key));
      if (got.nextAfter === undefined) break;
      after = got.nextAfter;
    }
    expect(seen).toEqual(["s:a", "s:b", "s:c", "s:d", "s:e"]);
    expect(sizes).toEqual([2, 2, 1]);

    // `after` is exclusive, need not be a listed key, and a released key leaves the listing.
    expect(
      (await store.list("s:", { limit: 10, after: "s:bb" })).entries.map((e) => e.key),
    ).toEqual(["s:c", "s:d", "s:e"]);
    await store.release("s:c");
    expect((await store.list("s:", { limit: 10 })).entries.map((e) => e.key)).toEqual([
      "s:a",
      "s:b",
      "s:d",
      "s:e",
    ]);
    expect(await store.list("none:", { limit: 10 })).toEqual({ entries: [] });
    // An exact multiple of the page size may end with an empty page, never with a missing key.
    const exact: string[] = [];
    after = undefined;
    for (let page = 0; page < 10; page++) {
      const got = await store.list("s:", after === undefined ? { limit: 2 } : { limit: 2, after });
      exact.push(...got.entries.map((e) => e.key));
      if (got.nextAfter === undefined) break;
      after = got.nextAfter;
    }
    expect(exact).toEqual(["s:a", "s:b", "s:d", "s:e"]);
  },

  "value-bytes": async (context) => {
    const store = await context.open();
    const max = store.limits.maxValueBytes;
    // Values are small records: a limit between 64 KiB and 16 MiB keeps this case's strings sane.
    expect(max).toBeGreaterThanOrEqual(64 * 1024);
    expect(max).toBeLessThanOrEqual(16 * 1024 * 1024);
    // "é" is two UTF-8 bytes: the largest value has max - 1 characters, and a value of max
    // characters is one byte too many, so a store counting characters fails here.
    const largest = `${"a".repeat(max - 2)}é`;
    const tooLarge = `${"a".repeat(max - 1)}é`;
    await store.put("big", largest, MINUTE);
    expect((await store.read("big"))?.value).toBe(largest);
    await expect(store.put("big", tooLarge, MINUTE)).rejects.toMatchObject({
      code: "invalid_argument",
    });
    await expect(store.claim("big2", tooLarge, MINUTE)).rejects.toMatchObject({
      code: "invalid_argument",
    });
    await expect(store.replace("big", largest, tooLarge, MINUTE)).rejects.toMatchObject({
      code: "invalid_argument",
    });
    expect((await store.read("big"))?.value).toBe(largest);
    expect(await store.read("big2")).toBeUndefined();
  },
} satisfies Partial<Record<CoordinationCaseName, CoordinationCase>>;
