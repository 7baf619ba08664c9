import { expect } from "vitest";
import type { TaskEvent } from "../tracking-store.js";
import type { TrackingCase, TrackingCaseName } from "./case-list.case.js";
import { MINUTE, submitted, T0, taskId } from "./fixtures.case.js";

// updates() and throughput(): what the dashboard's live stream and overview read (issue 7).

function ended(
  id: string,
  status: "SUCCESS" | "FAILURE",
  at: number,
  extra: Partial<TaskEvent> = {},
): TaskEvent {
  return { taskId: id, run: 0, attempt: 0, status, at, completedAt: at, ...extra };
}

export const CHANGE_CASES = {
  "updates-order": async ({ store }) => {
    const [a, b, c, d] = [taskId(), taskId(), taskId(), taskId()];
    await store.record([
      submitted(a, T0),
      submitted(b, T0 + 1_000),
      submitted(c, T0 + 2_000),
      // a changes last: it moves to the end of the update order.
      ended(a, "SUCCESS", T0 + 3_000),
      // d is only known from a worker's event; ties on the time are ordered by id.
      { taskId: d, run: 0, attempt: 0, status: "STARTED", at: T0 + 2_000 },
    ]);
    const all = await store.updates({ updatedSince: T0 });
    const tiedOrder = [c, d].sort();
    expect(all.map((t) => t.id)).toEqual([b, ...tiedOrder, a]);
    expect(all[3]).toMatchObject({ id: a, status: "SUCCESS" });
    expect((await store.updates({ updatedSince: T0 + 2_000 })).map((t) => t.id)).toEqual([
      ...tiedOrder,
      a,
    ]);
    const first = await store.updates({ updatedSince: T0, limit: 2 });
    expect(first.map((t) => t.id)).toEqual([b, tiedOrder[0]]);
    const last = first[1];
    if (!last) throw new Error("expected two updates");
    const next = await store.updates({
      updatedSince: T0,
      after: { updatedAt: Date.parse(last.updatedAt), id: last.id },
      limit: 2,
    });
    expect(next.map((t) => t.id)).toEqual([tiedOrder[1], a]);
    expect(await store.updates({ updatedSince: T0 + 3_001 })).toEqual([]);
    await expect(store.updates({ updatedSince: T0, limit: 0 })).rejects.toMatchObject({
      code: "invalid_argument",
    });
  },

  "updates-live": async ({ store }) => {
    const id = taskId();
    await store.record([submitted(id, T0)]);
    expect(await store.updates({ updatedSince: T0 })).toMatchObject([{ id, status: "PENDING" }]);
    await store.record([{ taskId: id, run: 0, attempt: 0, status: "STARTED", at: T0 + 5 }]);
    expect(await store.updates({ updatedSince: T0 + 1 })).toMatchObject([
      { id, status: "STARTED", updatedAt: new Date(T0 + 5).toISOString() },
    ]);
    // An older event that changes nothing newer does not move the record's update time.
    await store.record([submitted(id, T0)]);
    expect(await store.updates({ updatedSince: T0 + 6 })).toEqual([]);
  },

  throughput: async ({ store }) => {
    const events: TaskEvent[] = [];
    const finish = (queue: string, status: "SUCCESS" | "FAILURE", at: number) => {
      const id = taskId();
      events.push(submitted(id, at - 10, { queue }), ended(id, status, at));
    };
    finish("default", "SUCCESS", T0 + 5);
    finish("default", "SUCCESS", T0 + 59_999);
    finish("default", "FAILURE", T0 + 30_000);
    finish("default", "SUCCESS", T0 + MINUTE);
    finish("mail", "FAILURE", T0 + 2 * MINUTE + 1);
    finish("mail", "SUCCESS", T0 - 1); // before the window
    // Not finished: neither counted.
    const running = taskId();
    events.push(submitted(running, T0 + 10), {
      taskId: running,
      run: 0,
      attempt: 0,
      status: "STARTED",
      at: T0 + 20,
    });
    // A retried task that then succeeded counts once, as succeeded.
    const flaky = taskId();
    events.push(
      submitted(flaky, T0),
      {
        taskId: flaky,
        run: 0,
        attempt: 1,
        status: "PENDING",
        at: T0 + 100,
        error: { message: "x", type: "Error" },
      },
      ended(flaky, "SUCCESS", T0 + 200, { attempt: 1 }),
    );
    await store.record(events);
    const buckets = await store.throughput({ since: T0, bucketMs: MINUTE });
    const sorted = [...buckets].sort((x, y) => x.queue.localeCompare(y.queue) || x.start - y.start);
    expect(sorted).toEqual([
      { queue: "default", start: T0, succeeded: 3, failed: 1 },
      { queue: "default", start: T0 + MINUTE, succeeded: 1, failed: 0 },
      { queue: "mail", start: T0 + 2 * MINUTE, succeeded: 0, failed: 1 },
    ]);
    expect(await store.throughput({ since: T0 + 3 * MINUTE, bucketMs: MINUTE })).toEqual([]);
    await expect(store.throughput({ since: T0, bucketMs: 10 })).rejects.toMatchObject({
      code: "invalid_argument",
    });
  },
} satisfies Partial<Record<TrackingCaseName, TrackingCase>>;
