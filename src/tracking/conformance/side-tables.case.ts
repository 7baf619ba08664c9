import { expect } from "vitest";
import type { TaskEvent, TaskLogLine, WorkerHeartbeat } from "../tracking-store.js";
import type { TrackingCase, TrackingCaseName } from "./case-list.case.js";
import {
  DAY,
  flakyLifecycle,
  flakyOutcome,
  groups,
  MINUTE,
  seededRandom,
  shuffled,
  submitted,
  T0,
  taskId,
} from "./fixtures.case.js";

// Logs, heartbeats, retention, migrations and several writers on one database.

function line(id: string, at: number, message: string, attempt = 0): TaskLogLine {
  return { taskId: id, attempt, at, level: "info", message };
}

function heartbeat(
  workerId: string,
  seenAt: number,
  extra: Partial<WorkerHeartbeat> = {},
): WorkerHeartbeat {
  return {
    workerId,
    host: "host-a",
    pid: 4242,
    queues: ["default", "mail"],
    concurrency: 16,
    running: 3,
    functions: ["demo.echo", "demo.sleep"],
    version: "0.1.0",
    startedAt: T0 - DAY,
    seenAt,
    ...extra,
  };
}

export const SIDE_TABLE_CASES = {
  logs: async ({ store }) => {
    const id = taskId();
    const other = taskId();
    await store.appendLogs([
      line(id, T0 + 2, "third"),
      line(id, T0, "first"),
      line(other, T0, "elsewhere"),
    ]);
    await store.appendLogs([
      line(id, T0 + 1, "second"),
      line(id, T0 + 2, "fourth, same ms as third", 1),
    ]);
    await store.appendLogs([
      { taskId: id, attempt: 1, at: T0 + 3, level: "error", message: "fifth" },
    ]);
    const all = await store.logs(id);
    expect(all.map((l) => l.message)).toEqual([
      "first",
      "second",
      "third",
      "fourth, same ms as third",
      "fifth",
    ]);
    expect(all[4]).toEqual({
      taskId: id,
      attempt: 1,
      at: T0 + 3,
      level: "error",
      message: "fifth",
    });
    expect((await store.logs(id, { limit: 2 })).map((l) => l.message)).toEqual([
      "fourth, same ms as third",
      "fifth",
    ]);
    expect(await store.logs(taskId())).toEqual([]);
  },

  heartbeats: async ({ store }) => {
    await store.heartbeat([heartbeat("w1", T0), heartbeat("w2", T0 - 10 * MINUTE)]);
    await store.heartbeat([
      heartbeat("w1", T0 + 5_000, { running: 7 }),
      heartbeat("w1", T0 + 1_000, { running: 1 }),
    ]);
    // A heartbeat delayed in some buffer arrives after a newer one: it must not win.
    await store.heartbeat([heartbeat("w1", T0 + 2_000, { running: 2 })]);
    const live = await store.workers({ seenSince: T0 - MINUTE });
    expect(live).toEqual([heartbeat("w1", T0 + 5_000, { running: 7 })]);
    const all = await store.workers({ seenSince: 0 });
    expect(all.map((w) => w.workerId).sort()).toEqual(["w1", "w2"]);
    await store.heartbeat([heartbeat("w2", T0 + 6_000, { running: 0, stoppedAt: T0 + 6_000 })]);
    const stopped = (await store.workers({ seenSince: T0 + 6_000 }))[0];
    expect(stopped).toMatchObject({ workerId: "w2", stoppedAt: T0 + 6_000, running: 0 });
  },

  purge: async ({ store }) => {
    const old = taskId();
    const recent = taskId();
    const delayed = taskId();
    const cutOff = T0 - DAY;
    await store.record([
      submitted(old, T0 - 10 * DAY),
      submitted(recent, T0),
      // Submitted long ago for a run far in the future: still pending, so kept.
      submitted(delayed, T0 - 10 * DAY, { runAt: T0 + 2 * DAY }),
    ]);
    await store.appendLogs([line(old, T0 - 10 * DAY, "old"), line(recent, T0, "recent")]);
    await store.heartbeat([heartbeat("gone", T0 - 2 * DAY), heartbeat("alive", T0)]);
    expect(await store.purge({ olderThan: cutOff })).toEqual({ tasks: 1, logs: 1, workers: 1 });
    expect(await store.get(old)).toBeUndefined();
    expect(await store.get(recent)).toBeDefined();
    expect(await store.get(delayed)).toBeDefined();
    expect(await store.logs(old)).toEqual([]);
    expect((await store.logs(recent)).map((l) => l.message)).toEqual(["recent"]);
    expect((await store.workers({ seenSince: 0 })).map((w) => w.workerId)).toEqual(["alive"]);
    expect(await store.purge({ olderThan: cutOff })).toEqual({ tasks: 0, logs: 0, workers: 0 });
  },

  "migrate-again": async ({ store, reopen }) => {
    const id = taskId();
    await store.record([submitted(id, T0)]);
    const second = await reopen();
    await Promise.all([store.migrate(), second.migrate(), second.migrate()]);
    expect(await second.get(id)).toMatchObject({ id, status: "PENDING" });
  },

  "concurrent-writers": async ({ store, reopen }) => {
    const second = await reopen();
    await second.migrate();
    const random = seededRandom(7);
    const tasks = Array.from({ length: 40 }, (_, i) => ({
      id: taskId(),
      createdAt: T0 + i * 1_000,
    }));
    // Every event goes to one of the two instances (some to both), in a shuffled order.
    const perStore: [TaskEvent[], TaskEvent[]] = [[], []];
    for (const { id, createdAt } of tasks) {
      for (const event of flakyLifecycle(id, createdAt)) {
        const pick = random();
        if (pick < 0.45 || pick >= 0.9) perStore[0].push(event);
        if (pick >= 0.45) perStore[1].push(event);
      }
    }
    const calls = [store, second].flatMap((s, i) =>
      groups(shuffled(perStore[i as 0 | 1], random), 6, random).map(
        (batch) => () => s.record(batch),
      ),
    );
    await Promise.all(shuffled(calls, random).map((call) => call()));
    for (const { id, createdAt } of tasks) {
      expect(await store.get(id)).toMatchObject(flakyOutcome(id, createdAt));
      expect(await second.get(id)).toEqual(await store.get(id));
    }
  },
} satisfies Partial<Record<TrackingCaseName, TrackingCase>>;
