import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteKeys, testPrefix, trackingKeys } from "../../../test/support/redis-keys.js";
import { SERVICES, serviceAvailable } from "../../../test/support/services.js";
import { openTracking } from "../../backends/open.js";
import { TASK_STATUSES } from "../../core/status.js";
import { allPages, submitted, T0, taskId } from "../conformance/fixtures.case.js";
import { openRedisTrackingStore } from "./open-redis-tracking-store.js";
import { parseRedisTrackingUrl } from "./redis-tracking-options.js";
import type { RedisTrackingStore } from "./redis-tracking-store.js";

// What the conformance suite does not pin for Redis: retention by expiry, the scan budget of
// filtered lists and text search, layout upgrades, large batches and the URL options. That it
// keeps the same records as the SQL store is checked in ../redis-sql-agreement.test.ts.

const available = await serviceAvailable("redis");
const url = SERVICES.redis.url;
const run = testPrefix("beh");
let stores = 0;

function open(query = "retention=0", options = {}): RedisTrackingStore {
  stores += 1;
  return openRedisTrackingStore(`${url}?prefix=${run}-${stores}&${query}`, options);
}

afterAll(async () => {
  if (available) await deleteKeys(url, trackingKeys(`${run}*`));
});

describe.skipIf(!available)("Redis tracking store behaviour", () => {
  it("continues a text search that spent its scan budget with a cursor, finding every match", async () => {
    const store = open("retention=0", { scanBudget: 100 });
    try {
      await store.migrate();
      const ids = Array.from({ length: 350 }, () => taskId());
      const needles = new Set([ids[10], ids[200], ids[349]]);
      await store.record(
        ids.map((id, i) =>
          submitted(id, T0 + i, { functionKey: needles.has(id) ? "find.Needle" : "other.task" }),
        ),
      );
      const { ids: found, pages } = await allPages(store, { text: "NEEDLE", limit: 50 });
      expect(found).toEqual([ids[349], ids[200], ids[10]]);
      // 350 candidates at 100 per call: at least four calls, some answering no match yet.
      expect(pages).toBeGreaterThanOrEqual(4);
      const first = await store.list({ text: "needle", limit: 50 });
      expect(first.nextCursor).toEqual(expect.any(String));
    } finally {
      await store.close();
    }
  });

  it("expires tasks, their index entries, log lines and workers after the retention", async () => {
    const store = open("retention=1s");
    const admin = new Redis(url);
    try {
      await store.migrate();
      const old = taskId();
      const start = Date.now();
      await store.record([submitted(old, start)]);
      await store.appendLogs([{ taskId: old, attempt: 0, at: start, level: "info", message: "x" }]);
      await store.heartbeat([
        {
          workerId: "w-old",
          host: "h",
          pid: 1,
          queues: ["default"],
          concurrency: 1,
          running: 0,
          functions: [],
          version: "0",
          startedAt: start,
          seenAt: start,
        },
      ]);
      const base = store.keyBase;
      // No Redis expiry on the task: the sweep of every write removes it with its index entries.
      expect(await admin.pttl(`${base}task:${old}`)).toBe(-1);
      expect(await store.get(old)).toBeDefined();
      // Past the retention, reads no longer show it, even before anything removed it.
      await sleep(Math.max(0, start + 1_100 - Date.now()));
      expect(await store.get(old)).toBeUndefined();
      expect((await store.list({})).tasks).toEqual([]);
      expect(await store.logs(old)).toEqual([]);
      expect(await store.workers({ seenSince: 0 })).toEqual([]);
      // The next writes sweep it all away: hash, every index entry, log lines, the worker.
      const fresh = taskId();
      await store.record([submitted(fresh, Date.now())]);
      await store.appendLogs([
        { taskId: fresh, attempt: 0, at: Date.now(), level: "info", message: "y" },
      ]);
      await store.heartbeat([
        {
          workerId: "w-new",
          host: "h",
          pid: 2,
          queues: ["default"],
          concurrency: 1,
          running: 0,
          functions: [],
          version: "0",
          startedAt: Date.now(),
          seenAt: Date.now(),
        },
      ]);
      expect(await admin.exists(`${base}task:${old}`, `${base}log:${old}`, `${base}w:w-old`)).toBe(
        0,
      );
      for (const index of ["time", "upd", "st:PENDING", "fn:demo.flaky", "q:default"]) {
        const members = await admin.zrange(`${base}${index}`, 0, -1);
        expect(members, index).toHaveLength(1);
        expect(members).toEqual([fresh]);
      }
      expect(await admin.zrange(`${base}workers`, 0, -1)).toEqual(["w-new"]);
      // An event older than the retention is not stored at all.
      const ancient = taskId();
      await store.record([submitted(ancient, Date.now() - 60_000)]);
      expect(await admin.exists(`${base}task:${ancient}`)).toBe(0);
    } finally {
      admin.disconnect();
      await store.close();
    }
  });

  /**
   * Rewrites the indexes the store wrote as an earlier layout had them: members
   * "<13-digit time>:<id>" with score 0 (layout 2), and layout 1 also without the update index
   * and the throughput counters.
   */
  async function writeAsLayout(store: RedisTrackingStore, admin: Redis, layout: 1 | 2) {
    const base = store.keyBase;
    const indexes = [
      "time",
      "upd",
      ...TASK_STATUSES.map((s) => `st:${s}`),
      "fn:Email.Send",
      "fn:x",
      "q:mail",
      "q:default",
    ].map((k) => `${base}${k}`);
    for (const key of indexes) {
      const entries = await admin.zrange(key, 0, -1, "WITHSCORES");
      if (entries.length === 0) continue;
      await admin.del(key);
      const members: (string | number)[] = [];
      for (let i = 0; i < entries.length; i += 2) {
        members.push(0, `${String(entries[i + 1]).padStart(13, "0")}:${entries[i]}`);
      }
      await admin.zadd(key, ...members);
    }
    if (layout === 1) {
      const counters = await admin.keys(`${base}tp:*`);
      await admin.del(`${base}upd`, `${base}tpm`, ...counters);
    }
    await admin.set(`${base}schema`, String(layout));
  }

  for (const layout of [1, 2] as const) {
    it(`upgrades a prefix of layout ${layout} (time spelt out in index members${layout === 1 ? ", no update index or counters" : ""})`, async () => {
      const store = open();
      const admin = new Redis(url);
      try {
        await store.migrate();
        const [a, b, c] = [taskId(), taskId(), taskId()];
        await store.record([
          submitted(a, T0, { queue: "mail", functionKey: "Email.Send" }),
          submitted(b, T0 + 1, { functionKey: "x" }),
          submitted(c, T0 + 2, { functionKey: "x" }),
          { taskId: a, run: 0, attempt: 0, status: "SUCCESS", at: T0 + 5, completedAt: T0 + 5 },
        ]);
        const before = (await store.list({})).tasks;
        await writeAsLayout(store, admin, layout);
        await store.migrate();
        expect(await admin.get(`${store.keyBase}schema`)).toBe("3");
        expect((await store.list({})).tasks).toEqual(before);
        expect(before.map((t) => t.id)).toEqual([c, b, a]);
        expect((await allPages(store, { status: ["SUCCESS"] })).ids).toEqual([a]);
        expect((await allPages(store, { functionKey: "x", limit: 1 })).ids).toEqual([c, b]);
        expect((await allPages(store, { queue: "mail" })).ids).toEqual([a]);
        expect((await store.updates({ updatedSince: T0 })).map((t) => t.id)).toEqual([b, c, a]);
        expect(await store.throughput({ since: T0, bucketMs: 60_000 })).toEqual([
          { queue: "mail", start: T0, succeeded: 1, failed: 0 },
        ]);
        // Migrating again changes nothing (the counters are not counted twice).
        await store.migrate();
        expect(await store.throughput({ since: T0, bucketMs: 60_000 })).toEqual([
          { queue: "mail", start: T0, succeeded: 1, failed: 0 },
        ]);
        // And the upgraded indexes take new writes as usual.
        await store.record([
          { taskId: b, run: 0, attempt: 0, status: "FAILURE", at: T0 + 9, completedAt: T0 + 9 },
        ]);
        expect((await allPages(store, { status: ["FAILURE"] })).ids).toEqual([b]);
      } finally {
        admin.disconnect();
        await store.close();
      }
    });
  }

  it("splits a batch of large payloads into several calls, each row whole", async () => {
    const store = open();
    try {
      await store.migrate();
      // 3 MB of payload each: the first three fill one call's 8 MB of values, the 4th goes next.
      const ids = [taskId(), taskId(), taskId(), taskId()];
      const big = (i: number) => `${i}${"x".repeat(3 * 1024 * 1024)}`;
      await store.record(ids.map((id, i) => submitted(id, T0 + i, { payload: big(i) })));
      for (const [i, id] of ids.entries()) {
        expect((await store.get(id))?.payload).toBe(big(i));
      }
    } finally {
      await store.close();
    }
  });

  it("keeps a task until its latest event and its due time are both past the cut-off", async () => {
    const store = open();
    const admin = new Redis(url);
    try {
      await store.migrate();
      const [recent, delayed] = [taskId(), taskId()];
      await store.record([submitted(recent, T0)]);
      await store.record([
        { taskId: recent, run: 0, attempt: 0, status: "STARTED", at: T0 + 30_000 },
      ]);
      // Submitted at T0, due an hour later (a delayed task, or a retry waiting).
      await store.record([submitted(delayed, T0, { runAt: T0 + 3_600_000 })]);
      expect(await store.purge({ olderThan: T0 + 10_000 })).toEqual({
        tasks: 0,
        logs: 0,
        workers: 0,
      });
      expect(await store.get(recent)).toBeDefined();
      expect(await store.get(delayed)).toBeDefined();
      // The delayed task left the retention's walk of `upd` for `due`, so the next sweeps do
      // not meet it again; it is still listed.
      const base = store.keyBase;
      expect(await admin.zscore(`${base}upd`, delayed)).toBeNull();
      expect(Number(await admin.zscore(`${base}due`, delayed))).toBe(T0 + 3_600_000);
      expect((await store.list({})).tasks.map((t) => t.id).sort()).toEqual(
        [recent, delayed].sort(),
      );
      // Its next event brings it back to `upd` (and updates()).
      await store.record([
        { taskId: delayed, run: 0, attempt: 0, status: "STARTED", at: T0 + 3_600_001 },
      ]);
      expect(Number(await admin.zscore(`${base}upd`, delayed))).toBe(T0 + 3_600_001);
      expect(await store.purge({ olderThan: T0 + 30_001 })).toMatchObject({ tasks: 1 });
      expect(await store.get(recent)).toBeUndefined();
      expect(await store.purge({ olderThan: T0 + 3_600_002 })).toMatchObject({ tasks: 1 });
      expect(await store.get(delayed)).toBeUndefined();
      expect(await admin.zcard(`${base}due`)).toBe(0);
      expect(await admin.zcard(`${base}upd`)).toBe(0);
      expect(await admin.zcard(`${base}time`)).toBe(0);
    } finally {
      admin.disconnect();
      await store.close();
    }
  });

  it("is opened by openTracking from a redis:// URL and refuses bad options, saying what to change", async () => {
    const prefix = `${run}-open`;
    const store = await openTracking(`${url}?prefix=${prefix}&retention=12h&log_lines=50`);
    try {
      expect(store.kind).toBe("redis");
      const id = taskId();
      await store.appendLogs(
        Array.from({ length: 60 }, (_, i) => ({
          taskId: id,
          attempt: 0,
          at: Date.now() + i,
          level: "info" as const,
          message: `line ${i} | with a bar`,
        })),
      );
      const lines = await store.logs(id);
      expect(lines).toHaveLength(50);
      expect(lines[0]?.message).toBe("line 10 | with a bar");
    } finally {
      await store.close();
    }
    await expect(openTracking(`${url}?prefix=bad{prefix}`)).rejects.toMatchObject({
      code: "invalid_argument",
      message: expect.stringContaining("prefix"),
    });
    await expect(openTracking(`${url}?retention=week`)).rejects.toMatchObject({
      code: "invalid_argument",
      message: expect.stringContaining("7d"),
    });
    expect(
      parseRedisTrackingUrl("rediss://u:p@host:6380/2?prefix=a&retention=off&scan_budget=200"),
    ).toEqual({
      connectUrl: "rediss://u:p@host:6380/2",
      options: { prefix: "a", retentionMs: 0, scanBudget: 200 },
    });
    expect(() => parseRedisTrackingUrl(`${url}?scan_budget=1`)).toThrow(/scan_budget/);
  });
});

describe.skipIf(!available)("Redis tracking store on a second client", () => {
  let store: RedisTrackingStore;
  beforeAll(async () => {
    store = open();
    await store.migrate();
  });
  afterAll(() => store.close());

  it("reports a closed store as unavailable", async () => {
    const other = open();
    await other.migrate();
    await other.close();
    await other.close();
    await expect(other.get("x")).rejects.toMatchObject({ code: "unavailable" });
    expect(await store.get("x")).toBeUndefined();
  });
});
