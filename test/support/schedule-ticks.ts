import { openTracking } from "../../src/backends/open.js";
import { SCHEDULE_METADATA_KEY, TICK_METADATA_KEY } from "../../src/schedules/schedule.js";

// Reads back what schedules submitted, from the tracking store the CLI processes wrote to: the
// tasks of a schedule (the `schedule` list filter) grouped by their own tick time (metadata
// gotaskq.tick), so a test counts ticks, not executions (a redelivered task is one task).

/** Tick time (epoch ms) → the distinct task ids submitted for it. */
export type TickTasks = Map<number, Set<string>>;

export async function tasksByTick(trackingUrl: string, scheduleId: string): Promise<TickTasks> {
  const tracking = await openTracking(trackingUrl);
  const byTick: TickTasks = new Map();
  try {
    let cursor: string | undefined;
    do {
      const page = await tracking.list({
        metadata: { key: SCHEDULE_METADATA_KEY, value: scheduleId },
        limit: 500,
        ...(cursor ? { cursor } : {}),
      });
      for (const task of page.tasks) {
        const tick = Date.parse(task.metadata?.[TICK_METADATA_KEY] ?? "");
        if (!Number.isFinite(tick))
          throw new Error(`task ${task.id} has no tick time in its metadata`);
        const ids = byTick.get(tick) ?? new Set<string>();
        ids.add(task.id);
        byTick.set(tick, ids);
      }
      cursor = page.nextCursor;
    } while (cursor);
  } finally {
    await tracking.close();
  }
  return byTick;
}

/** Whole seconds t (epoch ms) with from <= t <= until. */
export function secondsBetween(from: number, until: number): number[] {
  const ticks: number[] = [];
  for (let t = Math.ceil(from / 1_000) * 1_000; t <= until; t += 1_000) ticks.push(t);
  return ticks;
}

/** What a run counts: ticks missing in the range a scheduler was alive, and ticks doubled anywhere. */
export function tickCounts(byTick: TickTasks, aliveFrom: number, aliveUntil: number) {
  const expected = secondsBetween(aliveFrom, aliveUntil);
  return {
    expected: expected.length,
    missing: expected.filter((t) => !byTick.has(t)).map((t) => new Date(t).toISOString()),
    doubled: [...byTick]
      .filter(([, ids]) => ids.size > 1)
      .map(([t, ids]) => `${new Date(t).toISOString()} ×${ids.size}`),
    total: byTick.size,
  };
}
