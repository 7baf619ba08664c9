import { Cron } from "croner";

// When a schedule's ticks fall. Every scheduler process computes the same instants from the
// same definition, with no shared state: that is what lets a tick be named by (schedule id, tick
// time) and claimed once across processes.
//
// - Intervals fall on whole multiples of the interval since the Unix epoch (every "1m" ticks at
//   :00 of each minute, every "7s" at epoch + 7k s), so they do not depend on when a process
//   started or when the schedule was created.
// - Cron expressions are read by croner in the schedule's IANA time zone. Daylight-saving
//   transitions follow croner's documented rules (those of Vixie cron): a fixed-time job (one
//   value in each of seconds, minutes, hours, e.g. "30 2 * * *") whose time falls in the
//   spring-forward gap runs at the first valid time after the gap, and once only when the time
//   occurs twice in the fall-back hour; an interval job ("*/5 * * * *") skips the gap and runs
//   on both passes through the repeated hour.

/** What tick computation needs of a schedule. */
export interface TickSource {
  cron?: string;
  timezone?: string;
  every_ms?: number;
}

/** Parsed cron expressions, by expression and zone: parsing costs more than stepping. */
const parsed = new Map<string, Cron>();
const MAX_CACHED = 1_000;

/**
 * A paused croner job (it never runs anything; we only ask it for times). Throws croner's error
 * for a bad expression; callers validate first (validation.ts) to give a better message.
 */
export function cronOf(expression: string, timezone: string): Cron {
  const key = `${expression}\u0000${timezone}`;
  let cron = parsed.get(key);
  if (!cron) {
    cron = new Cron(expression, { paused: true, timezone, mode: "5-or-6-parts" });
    if (parsed.size >= MAX_CACHED) parsed.clear();
    parsed.set(key, cron);
  }
  return cron;
}

/** The first tick strictly after `afterMs`, or undefined when the expression has no more. */
export function nextTick(source: TickSource, afterMs: number): number | undefined {
  if (source.every_ms !== undefined) {
    return (Math.floor(afterMs / source.every_ms) + 1) * source.every_ms;
  }
  const next = cronOf(source.cron ?? "", source.timezone ?? "UTC").nextRun(new Date(afterMs));
  return next ? next.getTime() : undefined;
}

/** The next `count` ticks strictly after `afterMs`, earliest first. */
export function nextTicks(source: TickSource, afterMs: number, count: number): number[] {
  const ticks: number[] = [];
  let at = afterMs;
  while (ticks.length < count) {
    const next = nextTick(source, at);
    if (next === undefined) break;
    ticks.push(next);
    at = next;
  }
  return ticks;
}

/** Ticks t with afterMs < t <= untilMs, earliest first, at most `max` (the earliest ones). */
export function ticksBetween(
  source: TickSource,
  afterMs: number,
  untilMs: number,
  max: number,
): number[] {
  const ticks: number[] = [];
  let at = afterMs;
  while (ticks.length < max) {
    const next = nextTick(source, at);
    if (next === undefined || next > untilMs) break;
    ticks.push(next);
    at = next;
  }
  return ticks;
}

/**
 * The latest `count` ticks t with afterMs < t <= untilMs, earliest first: the ticks a `catch_up`
 * schedule submits after an outage. Walks backwards, so an old `afterMs` costs nothing.
 */
export function latestTicksBetween(
  source: TickSource,
  afterMs: number,
  untilMs: number,
  count: number,
): number[] {
  if (count < 1 || untilMs <= afterMs) return [];
  let latest: number[];
  if (source.every_ms !== undefined) {
    const every = source.every_ms;
    const last = Math.floor(untilMs / every) * every;
    latest = Array.from({ length: count }, (_, i) => last - i * every);
  } else {
    // previousRuns looks strictly before its reference: ask from just after untilMs.
    const cron = cronOf(source.cron ?? "", source.timezone ?? "UTC");
    latest = cron.previousRuns(count, new Date(untilMs + 1)).map((d) => d.getTime());
  }
  return latest.filter((t) => t > afterMs && t <= untilMs).sort((a, b) => a - b);
}
