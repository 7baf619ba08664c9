import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logging/logger.js";
import { submitted, taskId } from "../tracking/conformance/fixtures.case.js";
import { openSqlTrackingStore } from "../tracking/sql/sql-tracking-store.js";
import type { TaskRecord, TaskUpdatesQuery, TrackingStore } from "../tracking/tracking-store.js";
import { TaskFeed } from "./task-feed.js";

// The live feed on a real (in-memory SQLite) tracking store.

let store: TrackingStore;
let feed: TaskFeed | undefined;

afterEach(async () => {
  await feed?.close();
  await store?.close();
});

async function setup(options: { lookbackMs?: number; maxPagesPerPoll?: number } = {}) {
  store = await openSqlTrackingStore("sqlite::memory:");
  await store.migrate();
  const queries: TaskUpdatesQuery[] = [];
  feed = new TaskFeed({
    source: (q) => {
      queries.push(q);
      return store.updates(q);
    },
    logger: silentLogger(),
    pollMs: 10,
    pageSize: 2,
    ...options,
  });
  return { feed, queries };
}

function collector() {
  const got: TaskRecord[] = [];
  return {
    got,
    listener: (records: readonly TaskRecord[]) => got.push(...records),
    async waitFor(predicate: (got: TaskRecord[]) => boolean) {
      const deadline = Date.now() + 10_000;
      while (!predicate(got)) {
        if (Date.now() > deadline) throw new Error(`feed delivered only ${JSON.stringify(got)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

describe("live task feed", () => {
  it("delivers changes made after subscribing, once each, to every subscriber from one poll loop", async () => {
    const { feed, queries } = await setup();
    const old = taskId();
    await store.record([submitted(old, Date.now() - 100)]);
    const a = collector();
    const b = collector();
    const stopA = feed.subscribe(a.listener);
    feed.subscribe(b.listener);
    await new Promise((r) => setTimeout(r, 50));
    const ids = [taskId(), taskId(), taskId()];
    const now = Date.now();
    await store.record(ids.map((id, i) => submitted(id, now + i)));
    await a.waitFor((got) => got.length >= 3);
    await store.record([
      { taskId: ids[0] as string, run: 0, attempt: 0, status: "STARTED", at: now + 10 },
    ]);
    await b.waitFor((got) => got.some((t) => t.status === "STARTED"));
    await new Promise((r) => setTimeout(r, 50));
    // History is not replayed; each version arrives once, though polls read the window again.
    expect(a.got.map((t) => `${t.id}:${t.status}`).sort()).toEqual(
      [...ids.map((id) => `${id}:PENDING`), `${ids[0]}:STARTED`].sort(),
    );
    expect(b.got.map((t) => `${t.id}:${t.status}`).sort()).toEqual(
      a.got.map((t) => `${t.id}:${t.status}`).sort(),
    );
    // Pages of pageSize 2 were followed with an after-key.
    expect(queries.some((q) => q.after !== undefined)).toBe(true);
    stopA();
    expect(feed.subscribers).toBe(1);
  });

  it("catches a change written late with an older event time, within the look-back", async () => {
    const { feed } = await setup({ lookbackMs: 2_000 });
    const c = collector();
    feed.subscribe(c.listener);
    const fresh = taskId();
    await store.record([submitted(fresh, Date.now())]);
    await c.waitFor((got) => got.length === 1);
    // Recorded now, but it happened a second ago (a worker's buffered event).
    const late = taskId();
    await store.record([submitted(late, Date.now() - 1_000)]);
    await c.waitFor((got) => got.some((t) => t.id === late));
  });

  it("reads a burst larger than one poll across several polls, without stalling", async () => {
    // One page of 2 per poll, while 40 tasks change at once within the look-back window.
    const { feed } = await setup({ maxPagesPerPoll: 1, lookbackMs: 60_000 });
    const c = collector();
    feed.subscribe(c.listener);
    await new Promise((r) => setTimeout(r, 30));
    const now = Date.now();
    const ids = Array.from({ length: 40 }, () => taskId());
    await store.record(ids.map((id, i) => submitted(id, now + (i % 3))));
    await c.waitFor((got) => got.length >= 40);
    expect(new Set(c.got.map((t) => t.id))).toEqual(new Set(ids));
    // A later change still arrives after the burst.
    const after = taskId();
    await store.record([submitted(after, Date.now())]);
    await c.waitFor((got) => got.some((t) => t.id === after));
  });

  it("stops polling when the last subscriber leaves", async () => {
    const { feed, queries } = await setup();
    const stop = feed.subscribe(() => {});
    await new Promise((r) => setTimeout(r, 50));
    stop();
    await new Promise((r) => setTimeout(r, 20));
    const count = queries.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(queries.length).toBe(count);
  });
});
