import type { BackoffPolicy } from "../core/backoff.js";

// The schedule model: what to submit (a function key, a payload, the submission options) and
// when (a cron expression in an IANA time zone, or a fixed interval), plus what to do about ticks
// nobody fired (missed-run policy) and about a tick whose previous task still runs (overlap
// policy). Field names are the wire names (snake_case), as for task submissions, so one object
// travels from a REST body or a task module to the coordination store without renaming.

export type MissedRunPolicy = "skip" | "catch_up";
export const MISSED_RUN_POLICIES: readonly MissedRunPolicy[] = ["skip", "catch_up"];

export type OverlapPolicy = "allow" | "skip_if_running";
export const OVERLAP_POLICIES: readonly OverlapPolicy[] = ["allow", "skip_if_running"];

/** Where a schedule came from: a task module's `schedules` export, or the API / CLI. */
export type ScheduleSource = "module" | "api";

/** Ticks `catch_up` submits after an outage when the schedule names no bound. */
export const DEFAULT_CATCH_UP_MAX = 10;
export const MAX_CATCH_UP_MAX = 1_000;
/** Intervals shorter than this are refused: a scheduler is not a busy loop. */
export const MIN_INTERVAL_MS = 1_000;
export const SCHEDULE_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

/** A schedule as a caller gives it (REST body, task module, CLI), defaults applied. */
export interface ScheduleSpec {
  id: string;
  function_key: string;
  /** Exactly one of `cron` and `every`. 5 fields (minute first) or 6 (seconds first). */
  cron?: string;
  /** IANA time zone the cron expression is read in. Default "UTC" (cron only). */
  timezone?: string;
  /** Interval as written ("30s", "5m", "1h30m"); ticks fall on multiples of it since the epoch. */
  every?: string;
  payload: unknown;
  queue?: string;
  priority?: number;
  timeout_ms?: number;
  max_retries?: number;
  backoff?: BackoffPolicy;
  metadata?: Record<string, string>;
  /** Default "skip". */
  missed: MissedRunPolicy;
  /** Most missed ticks `catch_up` submits (the latest ones). Default 10. */
  catch_up_max: number;
  /** Default "allow". */
  overlap: OverlapPolicy;
  /** Default false. */
  paused: boolean;
}

/** A stored schedule: its spec plus bookkeeping. Times are epoch ms. */
export interface Schedule extends ScheduleSpec {
  source: ScheduleSource;
  created_at: number;
  updated_at: number;
  /**
   * Ticks at or before this time are never fired by the steady loop: the creation time, moved
   * to the resume time on resume (ticks of a paused stretch are not "missed").
   */
  active_since: number;
  /** Interval in ms, parsed from `every` (absent for cron). */
  every_ms?: number;
}

/** Metadata keys every scheduled task carries, so its schedule and tick can be read back. */
export const SCHEDULE_METADATA_KEY = "gotaskq.schedule";
export const TICK_METADATA_KEY = "gotaskq.tick";
/** "tick" for a scheduler's tick, "manual" for trigger-now. */
export const TRIGGER_METADATA_KEY = "gotaskq.trigger";
