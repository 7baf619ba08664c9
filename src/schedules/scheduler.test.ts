import { afterEach, describe, expect, it, vi } from "vitest";
import { createMemoryBroker } from "../broker/memory/memory-broker.js";
import {
  createMemoryCoordinationStore,
  MemoryCoordinationServer,
} from "../coordination/memory/memory-coordination-store.js";
import { UnavailableError } from "../core/errors.js";
import type { TaskSubmission } from "../core/submission.js";
import { silentLogger } from "../logging/logger.js";
import { Producer } from "../producer/producer.js";
import { TICK_METADATA_KEY } from "./schedule.js";
import { ScheduleStore } from "./schedule-store.js";
import { Scheduler, type SchedulerTiming } from "./scheduler.js";
import { tickTaskId } from "./tick-submission.js";
import { validateSchedule } from "./validation.js";

// The scheduler loop on a fake clock (vitest's, which also drives the memory store's TTLs and
// every timer): real Producers, a real memory broker and coordination store.

const limits = { maxPayloadBytes: 1_048_576 };

function rig(start: string, timing: Partial<SchedulerTiming> = {}) {
  vi.useFakeTimers({ now: Date.parse(start), toFake: ["Date", "setTimeout", "clearTimeout"] });
  const server = new MemoryCoordinationServer();
  const broker = createMemoryBroker();
  const accepted: Array<{ tick: string; id: string }> = [];
  const store = createMemoryCoordinationStore({ server });
  const producer = new Producer({ broker, logger: silentLogger(), coordination: store });
  const schedulers: Scheduler[] = [];
  const startScheduler = async (declared: unknown[] = []) => {
    const scheduler = new Scheduler({
      coordination: async () => createMemoryCoordinationStore({ server }),
      submit: async (submission: TaskSubmission, options: { id: string }) => {
        const task = await producer.submit(submission, options);
        if (!task.duplicate) {
          accepted.push({ tick: submission.metadata?.[TICK_METADATA_KEY] ?? "", id: task.id });
        }
        return task;
      },
      logger: silentLogger(),
      declared: declared.map((d) => validateSchedule(d, limits)),
      timing,
    });
    await scheduler.start();
    schedulers.push(scheduler);
    return scheduler;
  };
  return { store, accepted, startScheduler, schedulers, broker };
}

let running: Scheduler[] = [];

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(running.map((s) => s.stop()));
  running = [];
});

describe("Scheduler", () => {
  it("submits each tick once across three schedulers", async () => {
    const r = rig("2026-01-01T00:00:00.300Z");
    running = r.schedulers;
    const declared = [{ id: "every-second", function_key: "demo.echo", every: "1s" }];
    await Promise.all([1, 2, 3].map(() => r.startScheduler(declared)));
    await vi.advanceTimersByTimeAsync(10_000);
    const ticks = r.accepted.map((a) => a.tick);
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(ticks.length).toBeGreaterThanOrEqual(9);
    expect(ticks[0]).toBe("2026-01-01T00:00:01.000Z");
    // Each tick's task id derives from (schedule, tick): any scheduler names the same task.
    for (const { tick, id } of r.accepted) {
      expect(id).toBe(tickTaskId("every-second", Date.parse(tick), "tick"));
    }
  });

  it("takes over a tick whose holder died, without submitting it twice", async () => {
    const r = rig("2026-01-01T00:00:00.500Z", { leaseMs: 2_000 });
    running = r.schedulers;
    // A dead holder: a pending claim on the 00:00:01 tick that nobody will settle.
    await r.store.claim(
      "schedule:tick:s:1767225601000",
      JSON.stringify({
        state: "pending",
        holder: "dead",
        lease_ms: 2_000,
        ttl_ms: 3_600_000,
        nonce: "x",
      }),
      3_600_000,
    );
    await r.startScheduler([{ id: "s", function_key: "demo.echo", every: "1s" }]);
    await vi.advanceTimersByTimeAsync(1_200);
    expect(r.accepted.map((a) => a.tick)).not.toContain("2026-01-01T00:00:01.000Z");
    await vi.advanceTimersByTimeAsync(3_000);
    const ticks = r.accepted.map((a) => a.tick);
    expect(ticks).toContain("2026-01-01T00:00:01.000Z");
    expect(new Set(ticks).size).toBe(ticks.length);
  });

  it("catch_up submits the latest missed ticks after an outage; skip submits none", async () => {
    const r = rig("2026-01-01T00:00:00.500Z");
    running = r.schedulers;
    const declared = [
      { id: "catch", function_key: "demo.echo", every: "1s", missed: "catch_up", catch_up_max: 3 },
      { id: "skip", function_key: "demo.echo", every: "1s" },
    ];
    const first = await r.startScheduler(declared);
    await vi.advanceTimersByTimeAsync(5_000);
    await first.stop();
    const before = r.accepted.length;
    expect(before).toBe(10); // 00:01 … 00:05, both schedules
    await vi.advanceTimersByTimeAsync(30_000); // the outage: 00:06 … 00:35 missed
    await r.startScheduler(declared);
    await vi.advanceTimersByTimeAsync(100);
    const after = r.accepted.slice(before).map((a) => a.tick);
    expect(after.sort()).toEqual([
      "2026-01-01T00:00:33.000Z",
      "2026-01-01T00:00:34.000Z",
      "2026-01-01T00:00:35.000Z",
    ]);
  });

  it("submits late ticks within the lookback after a store outage, and catches up older ones", async () => {
    const r = rig("2026-01-01T00:00:00.500Z", { leaseMs: 1_000 }); // lookback 3 s
    running = r.schedulers;
    let down = false;
    const server = new MemoryCoordinationServer();
    const scheduler = new Scheduler({
      coordination: async () => {
        if (down) throw new UnavailableError("store down (test)");
        return createMemoryCoordinationStore({ server });
      },
      submit: async (submission, options) => {
        const store = createMemoryCoordinationStore({ server });
        const producer = new Producer({
          broker: r.broker,
          logger: silentLogger(),
          coordination: store,
        });
        const task = await producer.submit(submission, options);
        if (!task.duplicate)
          r.accepted.push({ tick: submission.metadata?.[TICK_METADATA_KEY] ?? "", id: task.id });
        return task;
      },
      logger: silentLogger(),
      declared: [
        validateSchedule(
          { id: "c", function_key: "demo.echo", every: "1s", missed: "catch_up", catch_up_max: 2 },
          limits,
        ),
      ],
      timing: { leaseMs: 1_000 },
    });
    await scheduler.start();
    running.push(scheduler);
    await vi.advanceTimersByTimeAsync(2_000); // 00:01, 00:02
    down = true;
    await vi.advanceTimersByTimeAsync(10_000); // down from 00:02.5 to 00:12.5
    down = false;
    await vi.advanceTimersByTimeAsync(1_000); // the next pass, within a second
    const seconds = r.accepted.map((a) => Number(a.tick.slice(17, 19))).sort((a, b) => a - b);
    expect(seconds.slice(0, 2)).toEqual([1, 2]);
    // After the outage: the ticks of the last 3 s (late, inside the lookback) and, before them,
    // the latest 2 older ones (catch_up, bound 2): one contiguous run up to now, nothing older.
    const after = seconds.slice(2);
    const now = Math.floor((Date.now() % 60_000) / 1_000);
    expect(after.at(-1)).toBe(now);
    expect(after).toEqual(
      Array.from({ length: after.length }, (_, i) => now - after.length + 1 + i),
    );
    expect(after.length).toBeGreaterThanOrEqual(5);
    expect(after.length).toBeLessThanOrEqual(6);
  });

  it("skips a tick while the previous one's task is still queued (overlap: skip_if_running)", async () => {
    const r = rig("2026-01-01T00:00:00.500Z");
    running = r.schedulers;
    // No worker runs: the first tick's task stays queued and holds the schedule's unique key.
    await r.startScheduler([
      { id: "o", function_key: "demo.echo", every: "1s", overlap: "skip_if_running" },
    ]);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(r.accepted.map((a) => a.tick)).toEqual(["2026-01-01T00:00:01.000Z"]);
    const state = await new ScheduleStore(r.store).state("o");
    expect(state).toMatchObject({
      last_outcome: "skipped_overlap",
      last_task_id: r.accepted[0]?.id,
    });
  });

  it("follows an hourly cron through the fall-back hour on a fake clock (two 02:00 local)", async () => {
    const r = rig("2026-10-24T23:30:00Z", { maxSleepMs: 60_000 });
    running = r.schedulers;
    await r.startScheduler([
      { id: "hourly", function_key: "demo.echo", cron: "0 * * * *", timezone: "Europe/Berlin" },
    ]);
    await vi.advanceTimersByTimeAsync(3 * 3_600_000);
    expect(r.accepted.map((a) => a.tick)).toEqual([
      "2026-10-25T00:00:00.000Z",
      "2026-10-25T01:00:00.000Z",
      "2026-10-25T02:00:00.000Z",
    ]);
  });

  it("submits nothing for a paused schedule, and nothing of the paused stretch once resumed", async () => {
    const r = rig("2026-01-01T00:00:00.500Z");
    running = r.schedulers;
    await r.startScheduler([
      { id: "p", function_key: "demo.echo", every: "1s", missed: "catch_up", paused: true },
    ]);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(r.accepted).toEqual([]);
    await new ScheduleStore(r.store).setPaused("p", false, Date.now());
    await vi.advanceTimersByTimeAsync(2_000);
    expect(r.accepted.map((a) => a.tick)).toEqual([
      "2026-01-01T00:00:04.000Z",
      "2026-01-01T00:00:05.000Z",
    ]);
  });
});
