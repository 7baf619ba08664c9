import { randomUUID } from "node:crypto";
import os from "node:os";
import type { CoordinationStore } from "../coordination/coordination-store.js";
import { IdempotencyKeyReusedError } from "../core/errors.js";
import { type Service, sleep } from "../core/lifecycle.js";
import type { TaskSubmission } from "../core/submission.js";
import type { Logger } from "../logging/logger.js";
import type { SubmittedTask } from "../producer/prepared-task.js";
import type { Schedule, ScheduleSpec } from "./schedule.js";
import { ScheduleStore } from "./schedule-store.js";
import { abandonTick, claimTick, settleTick, tickKey } from "./tick-claims.js";
import { tickSubmission, tickTaskId } from "./tick-submission.js";
import { latestTicksBetween, nextTick, ticksBetween } from "./ticks.js";

// The scheduler loop of one process. Any number of processes run it on one coordination store;
// each tick is submitted exactly once across all of them:
//
// 1. Every process computes the same tick instants from the same definition (ticks.ts).
// 2. A tick is claimed in the store before it is submitted (tick-claims.ts): one process wins,
//    the others see it pending or done. A holder that dies mid-tick loses its claim after the
//    lease, and one successor takes it over.
// 3. The submission's idempotency key is derived from (schedule, tick) (tick-submission.ts), so
//    a successor resubmitting a tick its dead predecessor had already enqueued gets that task back
//    instead of a second one.
//
// Which ticks a process considers on each pass: those after max(its own start, now − lookback,
// the schedule's active_since). A tick before this process started that no process claimed was
// missed (every scheduler was down): `skip` leaves it, `catch_up` submits the latest
// `catch_up_max` of them after the schedule's last submitted tick. A pending tick inside the
// lookback is retried on every pass until it is settled, so a lookback longer than the lease
// means a claimed tick is never lost while any scheduler lives. A tick up to the lookback late
// (the store or the broker was down for a while) is still submitted, whatever the policy; older
// ones follow the missed-run policy, as after a full outage.

export interface SchedulerTiming {
  /** How long a process may hold a tick before others take it over (ms). Default 10 000. */
  leaseMs: number;
  /** How far back each pass looks for unsettled ticks (ms). Default 3 × leaseMs. */
  lookbackMs: number;
  /** Longest sleep between passes: how soon new or changed schedules are seen (ms). Default 1 000. */
  maxSleepMs: number;
  /** How long tick entries and their idempotency keys live (ms). Default 1 h (≥ 2 × lookback). */
  retentionMs: number;
}

export const DEFAULT_SCHEDULER_LEASE_MS = 10_000;

export function schedulerTiming(given: Partial<SchedulerTiming> = {}): SchedulerTiming {
  const leaseMs = given.leaseMs ?? DEFAULT_SCHEDULER_LEASE_MS;
  const lookbackMs = given.lookbackMs ?? 3 * leaseMs;
  return {
    leaseMs,
    lookbackMs,
    maxSleepMs: given.maxSleepMs ?? 1_000,
    retentionMs: Math.max(given.retentionMs ?? 3_600_000, 2 * lookbackMs),
  };
}

/** What the scheduler submits through: the Producer's `submit`. */
/** Submits a tick's task under the id given (see tickTaskId). */
export type Submit = (
  submission: TaskSubmission,
  options: { id: string },
) => Promise<SubmittedTask>;

export interface SchedulerOptions {
  coordination: () => Promise<CoordinationStore>;
  submit: Submit;
  logger: Logger;
  /** Schedules a task module declares: stored (created or updated) when the scheduler starts. */
  declared?: readonly ScheduleSpec[];
  timing?: Partial<SchedulerTiming>;
  now?: () => number;
}

/** Most ticks of one schedule a pass handles (a 1 s schedule with a 30 s lookback needs 30). */
const MAX_TICKS_PER_PASS = 200;

export class Scheduler implements Service {
  readonly #options: SchedulerOptions;
  readonly #timing: SchedulerTiming;
  readonly #now: () => number;
  readonly #holder = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  readonly #abort = new AbortController();
  /** Ticks this process saw settled, per schedule (trimmed to the lookback). */
  readonly #settled = new Map<string, Set<number>>();
  readonly #inFlight = new Map<string, Promise<void>>();
  /** Schedules whose catch-up ran in this process, by id → the active_since it ran for. */
  readonly #caughtUp = new Map<string, number>();
  #startedAt = 0;
  #declaredStored = false;
  #loop: Promise<void> | undefined;
  #lastFailure = "";

  constructor(options: SchedulerOptions) {
    this.#options = options;
    this.#timing = schedulerTiming(options.timing);
    this.#now = options.now ?? Date.now;
  }

  /** Resolves at once: a store that is down costs late ticks, not a failed start. */
  async start(): Promise<void> {
    if (this.#loop) return;
    this.#startedAt = this.#now();
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#abort.abort(new Error("scheduler stopping"));
    await this.#loop;
    await Promise.allSettled([...this.#inFlight.values()]);
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      let wakeAt = this.#now() + this.#timing.maxSleepMs;
      try {
        const store = await this.#options.coordination();
        const schedules = new ScheduleStore(store);
        await this.#storeDeclared(schedules);
        for (const schedule of await schedules.list()) {
          if (schedule.paused) continue;
          await this.#pass(store, schedules, schedule);
          const next = nextTick(schedule, this.#now());
          if (next !== undefined) wakeAt = Math.min(wakeAt, next);
        }
        this.#lastFailure = "";
      } catch (error) {
        // The store (or listing) failed: ticks may fall out of the lookback meanwhile, so every
        // catch_up schedule looks for missed ticks again once a pass succeeds.
        this.#caughtUp.clear();
        this.#failed("scheduler_pass_failed", error, "scheduler pass failed; retrying");
      }
      await sleep(Math.max(5, wakeAt - this.#now()), signal).catch(() => undefined);
    }
  }

  async #storeDeclared(schedules: ScheduleStore): Promise<void> {
    if (this.#declaredStored) return;
    for (const spec of this.#options.declared ?? []) {
      const { created, changed } = await schedules.upsert(spec, "module", this.#now(), {
        keepPaused: true,
      });
      if (changed) {
        this.#options.logger.info(
          { event: created ? "schedule_created" : "schedule_updated", schedule: spec.id },
          "schedule declared by the task module stored",
        );
      }
    }
    this.#declaredStored = true;
  }

  /**
   * Starts handling every due tick of one schedule that is not settled or in flight here. A
   * `catch_up` schedule first reads where the schedulers left off, before any tick of this pass
   * can move that mark.
   */
  async #pass(
    store: CoordinationStore,
    schedules: ScheduleStore,
    schedule: Schedule,
  ): Promise<void> {
    const now = this.#now();
    const from = Math.max(this.#startedAt, now - this.#timing.lookbackMs, schedule.active_since);
    const settled = this.#settledOf(schedule.id, from);
    if (
      schedule.missed === "catch_up" &&
      this.#caughtUp.get(schedule.id) !== schedule.active_since
    ) {
      const state = await schedules.state(schedule.id);
      const after = Math.max(state.last_tick ?? schedule.active_since, schedule.active_since);
      const missed = latestTicksBetween(schedule, after, from, schedule.catch_up_max);
      if (missed.length > 0) {
        this.#options.logger.info(
          { event: "schedule_catch_up", schedule: schedule.id, ticks: missed.length },
          "submitting missed ticks (missed: catch_up)",
        );
      }
      for (const tick of missed) this.#fire(store, schedules, schedule, tick, settled);
      this.#caughtUp.set(schedule.id, schedule.active_since);
    }
    for (const tick of ticksBetween(schedule, from, now, MAX_TICKS_PER_PASS)) {
      if (!settled.has(tick)) this.#fire(store, schedules, schedule, tick, settled);
    }
  }

  #fire(
    store: CoordinationStore,
    schedules: ScheduleStore,
    schedule: Schedule,
    tick: number,
    settled: Set<number>,
  ): void {
    this.#track(tickKey(schedule.id, tick), () =>
      this.#fireOnce(store, schedules, schedule, tick, settled),
    );
  }

  /** Claims the tick; when this process wins it, submits it and settles the claim. */
  async #fireOnce(
    store: CoordinationStore,
    schedules: ScheduleStore,
    schedule: Schedule,
    tick: number,
    settled: Set<number>,
  ): Promise<void> {
    const key = tickKey(schedule.id, tick);
    const { leaseMs, retentionMs } = this.#timing;
    const claim = await claimTick(store, key, this.#holder, { leaseMs, retentionMs });
    if (!claim.won) {
      if (claim.done) settled.add(tick);
      return;
    }
    let task: SubmittedTask | undefined;
    let outcome: "submitted" | "skipped_overlap" = "submitted";
    try {
      task = await this.#options.submit(tickSubmission(schedule, tick, "tick", retentionMs), {
        id: tickTaskId(schedule.id, tick, "tick"),
      });
      // A fresh claim means nobody submitted this tick before: a duplicate is the unique key
      // of skip_if_running answering the previous tick's task.
      if (task.duplicate && !claim.takeover) outcome = "skipped_overlap";
    } catch (error) {
      if (!(error instanceof IdempotencyKeyReusedError)) {
        await abandonTick(store, key, claim.pending).catch(() => undefined);
        // Retried by the next passes while inside the lookback; older, by catch_up.
        this.#caughtUp.delete(schedule.id);
        this.#failed("schedule_tick_failed", error, "could not submit a tick; will retry", {
          schedule: schedule.id,
          tick: new Date(tick).toISOString(),
        });
        await schedules
          .record(schedule.id, {
            outcome: "failed",
            error: String((error as Error).message),
            at: this.#now(),
          })
          .catch(() => undefined);
        return;
      }
      // Submitted already, by a process that read another version of the definition.
    }
    await settleTick(
      store,
      key,
      claim.pending,
      { ...(task ? { taskId: task.id } : {}), outcome },
      retentionMs,
    );
    settled.add(tick);
    this.#options.logger.info(
      {
        event: outcome === "submitted" ? "schedule_tick" : "schedule_tick_skipped",
        schedule: schedule.id,
        tick: new Date(tick).toISOString(),
        task_id: task?.id,
        ...(claim.takeover ? { takeover: true } : {}),
      },
      outcome === "submitted"
        ? "scheduled task submitted"
        : "tick skipped: the previous task still runs",
    );
    await schedules
      .record(schedule.id, { tick, ...(task ? { taskId: task.id } : {}), outcome, at: this.#now() })
      .catch((error: unknown) =>
        this.#failed("schedule_state_failed", error, "could not record a tick's outcome"),
      );
  }

  /** Runs `work` unless the same key is already in flight in this process. */
  #track(key: string, work: () => Promise<void>): void {
    if (this.#inFlight.has(key) || this.#abort.signal.aborted) return;
    const running = work()
      .catch((error: unknown) =>
        this.#failed("scheduler_pass_failed", error, "scheduler step failed"),
      )
      .finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, running);
  }

  #settledOf(id: string, from: number): Set<number> {
    let settled = this.#settled.get(id);
    if (!settled) {
      settled = new Set();
      this.#settled.set(id, settled);
    }
    const horizon = this.#now() - 2 * this.#timing.lookbackMs;
    for (const tick of settled) if (tick < Math.min(from, horizon)) settled.delete(tick);
    return settled;
  }

  /** Logs a failure once per distinct message in a row (a store outage is one line, not one per pass). */
  #failed(
    event: string,
    error: unknown,
    message: string,
    fields: Record<string, unknown> = {},
  ): void {
    const text = `${event}:${(error as Error)?.message ?? String(error)}`;
    if (text === this.#lastFailure) return;
    this.#lastFailure = text;
    this.#options.logger.warn({ event, err: error, ...fields }, message);
  }
}
