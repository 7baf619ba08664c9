import type { CoordinationStore } from "../coordination/coordination-store.js";
import { GoTaskQError, NotFoundError } from "../core/errors.js";
import type { Schedule, ScheduleSource, ScheduleSpec } from "./schedule.js";
import { parseInterval } from "./validation.js";

// Schedules as records in the coordination store, the one place every scheduler process and
// every API replica reads them from (DESIGN §7.1: small records with a TTL). Two records per
// schedule:
//
//   schedule:def:<id>    the definition (Schedule, JSON), written by create/update/pause/resume
//   schedule:state:<id>  what the schedulers did last (ScheduleState, JSON)
//
// Every change is a compare-and-replace on the value read, retried a few times, so two API
// replicas editing one schedule never lose one another's change silently, and a scheduler
// recording a tick never undoes a pause. The store gives every entry a TTL: definitions carry
// ten years, renewed by every write, which in practice means "until deleted".

export const RECORD_TTL_MS = 10 * 365 * 86_400_000;
const DEF = "schedule:def:";
const STATE = "schedule:state:";
const CAS_ATTEMPTS = 8;

/** What the schedulers did last for a schedule. Times are epoch ms. */
export interface ScheduleState {
  /** The latest tick submitted by a scheduler (not by trigger-now): where catch_up resumes. */
  last_tick?: number;
  /** The task of the latest tick or trigger, and what happened to that tick. */
  last_task_id?: string;
  last_outcome?: TickOutcome;
  last_error?: string;
  last_at?: number;
}

/** `submitted`: a task was enqueued (or was already, by another process); `skipped_overlap`:
 * the previous tick's task was still queued or running (overlap: skip_if_running). */
export type TickOutcome = "submitted" | "skipped_overlap" | "failed";

export class ScheduleStore {
  readonly #store: CoordinationStore;

  constructor(store: CoordinationStore) {
    this.#store = store;
  }

  /** Every schedule, in id order. */
  async list(): Promise<Schedule[]> {
    const schedules: Schedule[] = [];
    let after: string | undefined;
    do {
      const page = await this.#store.list(DEF, { limit: 1_000, ...(after ? { after } : {}) });
      for (const entry of page.entries) {
        const schedule = decode<Schedule>(entry.value);
        if (schedule) schedules.push(schedule);
      }
      after = page.nextAfter;
    } while (after !== undefined);
    return schedules;
  }

  async get(id: string): Promise<Schedule | undefined> {
    const entry = await this.#store.read(DEF + id);
    return entry ? decode<Schedule>(entry.value) : undefined;
  }

  /** The schedule, or NotFoundError naming the id. */
  async require(id: string): Promise<Schedule> {
    const schedule = await this.get(id);
    if (!schedule) throw notFound(id);
    return schedule;
  }

  /** Stores a new schedule; a conflict when the id is taken. */
  async create(spec: ScheduleSpec, source: ScheduleSource, now: number): Promise<Schedule> {
    const schedule = build(spec, source, now, undefined);
    const result = await this.#store.claim(DEF + spec.id, JSON.stringify(schedule), RECORD_TTL_MS);
    if (!result.claimed) {
      throw new GoTaskQError(
        "conflict",
        `schedule ${JSON.stringify(spec.id)} already exists; update it, or remove it first`,
      );
    }
    return schedule;
  }

  /**
   * Creates or replaces a schedule's definition. `keepPaused`: the stored paused flag wins over
   * the spec's (a task module's declaration must not resume a schedule an operator paused).
   */
  async upsert(
    spec: ScheduleSpec,
    source: ScheduleSource,
    now: number,
    options: { keepPaused?: boolean } = {},
  ): Promise<{ schedule: Schedule; created: boolean; changed: boolean }> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const entry = await this.#store.read(DEF + spec.id);
      const existing = entry ? decode<Schedule>(entry.value) : undefined;
      if (!entry || !existing) {
        const schedule = build(spec, source, now, undefined);
        const claimed = await this.#store.claim(
          DEF + spec.id,
          JSON.stringify(schedule),
          RECORD_TTL_MS,
        );
        if (claimed.claimed) return { schedule, created: true, changed: true };
        continue;
      }
      const paused = options.keepPaused ? existing.paused : spec.paused;
      const schedule = build({ ...spec, paused }, source, now, existing);
      if (sameDefinition(existing, schedule))
        return { schedule: existing, created: false, changed: false };
      if (
        await this.#store.replace(
          DEF + spec.id,
          entry.value,
          JSON.stringify(schedule),
          RECORD_TTL_MS,
        )
      ) {
        return { schedule, created: false, changed: true };
      }
    }
    throw contended(spec.id);
  }

  /** Pauses or resumes; resuming moves `active_since` to now (a pause's ticks are not missed). */
  async setPaused(id: string, paused: boolean, now: number): Promise<Schedule> {
    return this.#change(id, (s) =>
      s.paused === paused
        ? s
        : { ...s, paused, updated_at: now, ...(paused ? {} : { active_since: now }) },
    );
  }

  /** Removes the definition and its state; NotFoundError when there was none. */
  async remove(id: string): Promise<void> {
    const removed = await this.#store.release(DEF + id);
    await this.#store.release(STATE + id);
    if (!removed) throw notFound(id);
  }

  async state(id: string): Promise<ScheduleState> {
    const entry = await this.#store.read(STATE + id);
    return (entry ? decode<ScheduleState>(entry.value) : undefined) ?? {};
  }

  /**
   * Records a tick's outcome. `last_tick` only moves forward (ticks finish out of order across
   * processes); the last outcome is the latest tick's, or a trigger's.
   */
  async record(
    id: string,
    update: { tick?: number; taskId?: string; outcome: TickOutcome; error?: string; at: number },
  ): Promise<void> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const entry = await this.#store.read(STATE + id);
      const current = (entry ? decode<ScheduleState>(entry.value) : undefined) ?? {};
      if (update.tick !== undefined && (current.last_tick ?? -1) > update.tick) return;
      const next: ScheduleState = {
        ...current,
        ...(update.tick !== undefined && update.outcome !== "failed"
          ? { last_tick: update.tick }
          : {}),
        last_outcome: update.outcome,
        last_at: update.at,
        ...(update.taskId !== undefined ? { last_task_id: update.taskId } : {}),
      };
      if (update.error !== undefined) next.last_error = update.error;
      else delete next.last_error;
      const value = JSON.stringify(next);
      const written = entry
        ? await this.#store.replace(STATE + id, entry.value, value, RECORD_TTL_MS)
        : (await this.#store.claim(STATE + id, value, RECORD_TTL_MS)).claimed;
      if (written) return;
    }
    throw contended(id);
  }

  async #change(id: string, change: (s: Schedule) => Schedule): Promise<Schedule> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const entry = await this.#store.read(DEF + id);
      const existing = entry ? decode<Schedule>(entry.value) : undefined;
      if (!entry || !existing) throw notFound(id);
      const next = change(existing);
      if (next === existing) return existing;
      if (await this.#store.replace(DEF + id, entry.value, JSON.stringify(next), RECORD_TTL_MS)) {
        return next;
      }
    }
    throw contended(id);
  }
}

function build(
  spec: ScheduleSpec,
  source: ScheduleSource,
  now: number,
  existing: Schedule | undefined,
): Schedule {
  const resumed = existing?.paused === true && !spec.paused;
  return {
    ...spec,
    ...(spec.every !== undefined ? { every_ms: parseInterval(spec.every) } : {}),
    source,
    created_at: existing?.created_at ?? now,
    updated_at: now,
    active_since: existing && !resumed ? existing.active_since : now,
  };
}

/** Equal apart from the update time: a task module re-declaring the same schedule changes nothing. */
function sameDefinition(a: Schedule, b: Schedule): boolean {
  return JSON.stringify({ ...a, updated_at: 0 }) === JSON.stringify({ ...b, updated_at: 0 });
}

function decode<T>(value: string): T | undefined {
  try {
    return JSON.parse(value) as T;
  } catch {
    return undefined;
  }
}

function notFound(id: string): NotFoundError {
  return new NotFoundError(
    `no schedule with id ${JSON.stringify(id)}; list them with GET /v1/schedules`,
  );
}

function contended(id: string): GoTaskQError {
  return new GoTaskQError(
    "conflict",
    `schedule ${JSON.stringify(id)} kept changing while this change was applied; try again`,
  );
}
