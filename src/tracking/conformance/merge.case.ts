import { expect } from "vitest";
import type { TaskEvent } from "../tracking-store.js";
import type { TrackingCase, TrackingCaseName } from "./case-list.case.js";
import {
  allPages,
  flakyLifecycle,
  flakyOutcome,
  groups,
  MINUTE,
  seededRandom,
  shuffled,
  submitted,
  T0,
  taskId,
  withoutId,
} from "./fixtures.case.js";

// The monotonic merge: events arrive late, twice, or in any order, and every store converges to
// the same record.

export const MERGE_CASES = {
  "late-submission-keeps-success": async ({ store }) => {
    const id = taskId();
    const [pending0, started0, , started1, success1] = flakyLifecycle(id, T0);
    await store.record([success1]);
    await store.record([started1]);
    await store.record([started0, pending0]);
    const record = await store.get(id);
    expect(record).toMatchObject({
      status: "SUCCESS",
      attempt: 1,
      result: { attempts: 2 },
      // Filled by the late events of the same attempt and by the submission.
      startedAt: new Date(T0 + 1_030).toISOString(),
      functionKey: "demo.flaky",
      payload: { failures: 1 },
      createdAt: new Date(T0).toISOString(),
    });
  },

  "any-order": async ({ store }) => {
    const random = seededRandom(20261127);
    // The whole history, and the history up to a retry that is still running (its error shows).
    const histories = [
      (id: string) => flakyLifecycle(id, T0),
      (id: string) => flakyLifecycle(id, T0).slice(0, 4),
    ];
    for (const [h, history] of histories.entries()) {
      const inOrder = taskId();
      await store.record(history(inOrder));
      const expected = withoutId(await store.get(inOrder));
      for (let round = 0; round < 12; round += 1) {
        const id = taskId();
        const events = shuffled(history(id), random);
        if (round % 3 === 0) await store.record(events);
        else if (round % 3 === 1) for (const event of events) await store.record([event]);
        else for (const batch of groups(events, 3, random)) await store.record(batch);
        expect(withoutId(await store.get(id)), `history ${h}, round ${round}`).toEqual(expected);
      }
    }
    expect(await store.get(taskId())).toBeUndefined();
  },

  "lifecycle-outcome": async ({ store }) => {
    const done = taskId();
    await store.record(flakyLifecycle(done, T0));
    expect(await store.get(done)).toMatchObject(flakyOutcome(done, T0));
    const retrying = taskId();
    const [pending0, started0, pending1, started1] = flakyLifecycle(retrying, T0);
    // The retry's PENDING (which carries the error) arrives after its STARTED.
    await store.record([pending0, started0, started1]);
    await store.record([pending1]);
    expect(await store.get(retrying)).toMatchObject({
      status: "STARTED",
      attempt: 1,
      workerId: "w2",
      runAt: new Date(T0 + 1_020).toISOString(),
      error: { message: "flaky failure 1", type: "Error" },
    });
  },

  "duplicate-events": async ({ store }) => {
    const id = taskId();
    const events = flakyLifecycle(id, T0);
    await store.record(events);
    const once = await store.get(id);
    await store.record([...events, ...events]);
    await store.record(events.slice(2));
    expect(await store.get(id)).toEqual(once);
  },

  "first-final-state": async ({ store }) => {
    const id = taskId();
    await store.record([submitted(id, T0)]);
    const final = { taskId: id, run: 0, attempt: 0, at: T0 + 50, completedAt: T0 + 50 };
    await store.record([{ ...final, status: "SUCCESS", result: "first" }]);
    await store.record([
      { ...final, status: "CANCELED", at: T0 + 60, completedAt: T0 + 60 },
      { ...final, status: "FAILURE", at: T0 + 70, error: { message: "late", type: "Error" } },
    ]);
    expect(await store.get(id)).toMatchObject({
      status: "SUCCESS",
      result: "first",
      completedAt: new Date(T0 + 50).toISOString(),
      error: null,
    });
  },

  "redelivered-attempt": async ({ store }) => {
    const id = taskId();
    const started = { taskId: id, run: 0, attempt: 0, status: "STARTED" as const };
    await store.record([
      { ...started, at: T0 + 10, startedAt: T0 + 10, workerId: "w1", deliveryCount: 1 },
    ]);
    await store.record([
      { ...started, at: T0 + 90, startedAt: T0 + 90, workerId: "w2", deliveryCount: 2 },
    ]);
    expect(await store.get(id)).toMatchObject({
      status: "STARTED",
      workerId: "w2",
      deliveryCount: 2,
      startedAt: new Date(T0 + 90).toISOString(),
    });
  },

  "older-attempt": async ({ store }) => {
    const id = taskId();
    const [pending0, started0, pending1] = flakyLifecycle(id, T0);
    await store.record([pending0, pending1]);
    await store.record([started0]);
    expect(await store.get(id)).toMatchObject({
      status: "PENDING",
      attempt: 1,
      startedAt: null,
      workerId: "w1",
    });
  },

  "retry-clears-outcome": async ({ store }) => {
    const id = taskId();
    const [pending0, started0, pending1, started1, success1] = flakyLifecycle(id, T0);
    await store.record([pending0, started0, pending1]);
    expect(await store.get(id)).toMatchObject({
      status: "PENDING",
      attempt: 1,
      startedAt: null,
      completedAt: null,
      runAt: new Date(T0 + 1_020).toISOString(),
      error: { message: "flaky failure 1", type: "Error" },
    });
    await store.record([started1]);
    expect(await store.get(id)).toMatchObject({
      status: "STARTED",
      error: { message: "flaky failure 1" },
    });
    await store.record([success1]);
    expect(await store.get(id)).toMatchObject({
      status: "SUCCESS",
      error: null,
      result: { attempts: 2 },
    });
  },

  "new-run-wins": async ({ store }) => {
    const id = taskId();
    const failure = {
      taskId: id,
      run: 0,
      attempt: 3,
      status: "FAILURE" as const,
      at: T0 + MINUTE,
      completedAt: T0 + MINUTE,
      durationMs: 5,
      workerId: "w1",
      deadLetterReason: "retries_exhausted",
      error: {
        message: "still broken",
        type: "TypeError",
        stack: "TypeError: still broken\n    at x",
      },
    };
    await store.record([submitted(id, T0), failure]);
    expect(await store.get(id)).toMatchObject({
      status: "FAILURE",
      deadLetterReason: "retries_exhausted",
      error: {
        message: "still broken",
        type: "TypeError",
        stack: "TypeError: still broken\n    at x",
      },
    });
    await store.record([
      { taskId: id, run: 1, attempt: 0, status: "PENDING", at: T0 + 2 * MINUTE },
    ]);
    await store.record([
      { taskId: id, run: 0, attempt: 3, status: "STARTED", at: T0 + 3 * MINUTE, workerId: "w9" },
    ]);
    expect(await store.get(id)).toMatchObject({
      status: "PENDING",
      run: 1,
      attempt: 0,
      completedAt: null,
      durationMs: null,
      workerId: null,
      deadLetterReason: null,
      error: { message: "still broken" },
      functionKey: "demo.flaky",
    });
  },

  "late-submission-fills": async ({ store }) => {
    const id = taskId();
    await store.record([
      { taskId: id, run: 0, attempt: 0, status: "STARTED", at: T0 + 5, startedAt: T0 + 5 },
    ]);
    const early = await store.get(id);
    expect(early).toMatchObject({ functionKey: null, queue: null, createdAt: null, metadata: {} });
    expect(early?.payload).toBeUndefined();
    await store.record([
      submitted(id, T0, { payload: null, metadata: { tenant: "acme", trace: "t-1" } }),
    ]);
    expect(await store.get(id)).toMatchObject({
      status: "STARTED",
      functionKey: "demo.flaky",
      queue: "default",
      priority: 5,
      payload: null,
      maxRetries: 3,
      timeoutMs: 30_000,
      metadata: { tenant: "acme", trace: "t-1" },
      idempotencyKey: `key-${id}`,
      createdAt: new Date(T0).toISOString(),
    });
    // First value wins: a later event cannot rewrite what the task was.
    await store.record([submitted(id, T0 + 1, { functionKey: "other.key", payload: { x: 1 } })]);
    expect(await store.get(id)).toMatchObject({ functionKey: "demo.flaky", payload: null });
  },

  "batch-thousands": async ({ store }) => {
    // Larger than one statement or transaction of any store (writers flush up to 5,000 items).
    const ids = Array.from({ length: 2_345 }, () => taskId());
    const succeeded = (id: string, i: number): TaskEvent => ({
      taskId: id,
      run: 0,
      attempt: 0,
      status: "SUCCESS",
      at: T0 + i + 5,
      startedAt: T0 + i + 1,
      completedAt: T0 + i + 5,
      result: { i },
      payload: { failures: 1 },
      workerId: "w1",
    });
    await store.record([
      ...ids.map((id, i) => submitted(id, T0 + i)),
      ...ids.map((id, i) => succeeded(id, i)),
    ]);
    for (const i of [0, 499, 500, 999, 1_000, 1_001, 2_344]) {
      expect(await store.get(ids[i] as string), `task ${i}`).toMatchObject({
        status: "SUCCESS",
        functionKey: "demo.flaky",
        payload: { failures: 1 },
        result: { i },
        createdAt: new Date(T0 + i).toISOString(),
        startedAt: new Date(T0 + i + 1).toISOString(),
      });
    }
    const { ids: listed } = await allPages(store, { status: ["SUCCESS"], limit: 500 });
    expect(new Set(listed)).toEqual(new Set(ids));
  },

  "json-and-unicode": async ({ store }) => {
    const id = taskId();
    const payload = { nested: { list: [1, "two", null, true], emoji: "✓ ünïcödé" }, n: 1.5 };
    await store.record([
      submitted(id, T0, { payload, functionKey: "unicode.task" }),
      {
        taskId: id,
        run: 0,
        attempt: 0,
        status: "FAILURE",
        at: T0 + 1,
        error: { message: "Ärger: NUL\u0000 inside", type: "Error" },
      },
    ]);
    const record = await store.get(id);
    expect(record?.payload).toEqual(payload);
    expect(record?.error?.message).toMatch(/^Ärger: NUL.? inside$/);
  },
} satisfies Partial<Record<TrackingCaseName, TrackingCase>>;
