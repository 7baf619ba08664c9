import type { CoordinationStore } from "../coordination/coordination-store.js";
import { InvalidArgumentError } from "../core/errors.js";
import type { TaskStatus } from "../core/status.js";
import type { Producer, SubmittedTask } from "../producer/producer.js";
import type { Schedule } from "../schedules/schedule.js";
import { type ScheduleState, ScheduleStore } from "../schedules/schedule-store.js";
import { DEFAULT_SCHEDULER_LEASE_MS, schedulerTiming } from "../schedules/scheduler.js";
import { tickSubmission, tickTaskId } from "../schedules/tick-submission.js";
import { nextTicks } from "../schedules/ticks.js";
import { parseScheduleId, validateSchedule } from "../schedules/validation.js";
import type { TaskRegistry } from "../tasks/registry.js";
import type { TrackingStore } from "../tracking/tracking-store.js";
import type { LiveFunctions } from "./live-functions.js";

// The schedule operations every transport calls (REST, gRPC, the CLI): list with next runs and
// the last outcome, create, update, pause, resume, trigger now, remove. Inputs are `unknown` and
// decoded here (src/schedules/validation.ts), so every transport refuses the same bad input with
// the same message and nothing is stored. Schedules live in the coordination store; with none
// configured every operation answers `unavailable`, naming GOTASKQ_COORDINATION_URL. A schedule's
// task history is an ordinary task list filtered by schedule (TaskService.list).

export interface ScheduleServiceDeps {
  coordination: () => Promise<CoordinationStore>;
  /** Trigger-now submits through it. */
  producer: Producer;
  /** Read for the last tick's task status (best-effort, like every tracking read). */
  tracking: TrackingStore;
  /**
   * With it, a schedule for a function that neither it nor a live worker (`liveFunctions`)
   * registers is refused (422); a live worker's key is taken without a payload check.
   */
  registry?: TaskRegistry;
  liveFunctions?: LiveFunctions;
  maxPayloadBytes: number;
  now?: () => number;
}

/** A schedule as the API shows it. Times are epoch ms; transports format them. */
export interface ScheduleView extends Schedule {
  /** The next ticks (three), none while paused. */
  next_runs: number[];
  state: ScheduleState;
  /** The tracked status of the last tick's task, when the tracking store has it. */
  last_status?: TaskStatus;
}

const NEXT_RUNS = 3;

export class ScheduleService {
  readonly #deps: ScheduleServiceDeps;
  readonly #now: () => number;

  constructor(deps: ScheduleServiceDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  async list(): Promise<ScheduleView[]> {
    const store = await this.#store();
    return Promise.all((await store.list()).map((s) => this.#view(store, s)));
  }

  async get(id: unknown): Promise<ScheduleView> {
    const store = await this.#store();
    return this.#view(store, await store.require(parseScheduleId(id)));
  }

  /** Stores a new schedule (conflict when the id is taken). */
  async create(body: unknown): Promise<ScheduleView> {
    const spec = this.#validate(body);
    const store = await this.#store();
    return this.#view(store, await store.create(spec, "api", this.#now()));
  }

  /** Replaces a schedule's definition, or creates it; the body's id, if any, must be the path's. */
  async put(id: unknown, body: unknown): Promise<ScheduleView> {
    const scheduleId = parseScheduleId(id);
    const given =
      typeof body === "object" && body !== null ? (body as Record<string, unknown>).id : undefined;
    if (given !== undefined && given !== scheduleId) {
      throw new InvalidArgumentError(
        `the body's id ${JSON.stringify(given)} is not the path's ${JSON.stringify(scheduleId)}; leave id out of the body or make them equal`,
      );
    }
    const spec = this.#validate(
      typeof body === "object" && body !== null && !Array.isArray(body)
        ? { ...body, id: scheduleId }
        : body,
    );
    const store = await this.#store();
    const { schedule } = await store.upsert(spec, "api", this.#now());
    return this.#view(store, schedule);
  }

  async pause(id: unknown): Promise<ScheduleView> {
    const store = await this.#store();
    return this.#view(store, await store.setPaused(parseScheduleId(id), true, this.#now()));
  }

  async resume(id: unknown): Promise<ScheduleView> {
    const store = await this.#store();
    return this.#view(store, await store.setPaused(parseScheduleId(id), false, this.#now()));
  }

  /**
   * Submits the schedule's task now, paused or not, as a tick of its own (metadata
   * gotaskq.trigger = manual): it neither moves the schedule's ticks nor counts as one for
   * catch_up, and overlap does not apply to it.
   */
  async trigger(id: unknown): Promise<SubmittedTask> {
    const store = await this.#store();
    const schedule = await store.require(parseScheduleId(id));
    const at = this.#now();
    const { retentionMs } = schedulerTiming({ leaseMs: DEFAULT_SCHEDULER_LEASE_MS });
    const task = await this.#deps.producer.submit(
      tickSubmission(schedule, at, "manual", retentionMs),
      { id: tickTaskId(schedule.id, at, "manual") },
    );
    await store
      .record(schedule.id, { taskId: task.id, outcome: "submitted", at })
      .catch(() => undefined);
    return task;
  }

  async remove(id: unknown): Promise<void> {
    const store = await this.#store();
    await store.remove(parseScheduleId(id));
  }

  #validate(body: unknown) {
    const { registry, liveFunctions } = this.#deps;
    const key = (body as { function_key?: unknown } | null)?.function_key;
    // Another worker's function: its schema is its own (the API does the same for a submission).
    const elsewhere =
      typeof key === "string" && !registry?.has(key) && liveFunctions?.keys().includes(key);
    return validateSchedule(body, {
      maxPayloadBytes: this.#deps.maxPayloadBytes,
      ...(registry && !elsewhere ? { registry } : {}),
    });
  }

  async #store(): Promise<ScheduleStore> {
    return new ScheduleStore(await this.#deps.coordination());
  }

  async #view(store: ScheduleStore, schedule: Schedule): Promise<ScheduleView> {
    const state = await store.state(schedule.id);
    let lastStatus: TaskStatus | undefined;
    if (state.last_task_id !== undefined) {
      lastStatus = await this.#deps.tracking
        .get(state.last_task_id)
        .then((record) => record?.status)
        .catch(() => undefined);
    }
    const from = Math.max(this.#now(), schedule.active_since);
    return {
      ...schedule,
      next_runs: schedule.paused ? [] : nextTicks(schedule, from, NEXT_RUNS),
      state,
      ...(lastStatus !== undefined ? { last_status: lastStatus } : {}),
    };
  }
}
