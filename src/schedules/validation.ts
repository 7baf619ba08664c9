import { InvalidArgumentError } from "../core/errors.js";
import { FUNCTION_KEY_PATTERN, validateSubmission } from "../core/submission.js";
import type { TaskRegistry } from "../tasks/registry.js";
import {
  DEFAULT_CATCH_UP_MAX,
  MAX_CATCH_UP_MAX,
  MIN_INTERVAL_MS,
  MISSED_RUN_POLICIES,
  type MissedRunPolicy,
  OVERLAP_POLICIES,
  type OverlapPolicy,
  SCHEDULE_ID_PATTERN,
  type ScheduleSpec,
} from "./schedule.js";
import { cronOf } from "./ticks.js";

// The one validator of a schedule, shared by every entry point (REST, gRPC, CLI, task modules):
// a bad schedule is refused before anything is stored, with a message that says what to change.
// The task it submits is checked by the task submission validator itself (a probe submission),
// so a schedule can never hold a payload or an option that every tick would then fail on.

/** The task options a schedule passes to every tick's submission (checked as a submission's). */
const TASK_FIELDS = [
  "payload",
  "queue",
  "priority",
  "timeout_ms",
  "max_retries",
  "backoff",
  "metadata",
] as const;

const FIELDS = new Set([
  "id",
  "function_key",
  "cron",
  "timezone",
  "every",
  ...TASK_FIELDS,
  "missed",
  "catch_up_max",
  "overlap",
  "paused",
]);

/** A task takes 32 metadata keys; the scheduler adds gotaskq.schedule, .tick and .trigger. */
const MAX_SCHEDULE_METADATA_KEYS = 29;

/** Largest interval accepted: one year. */
export const MAX_INTERVAL_MS = 366 * 86_400_000;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export interface ScheduleLimits {
  /** Largest payload accepted (the producer's limit). */
  maxPayloadBytes: number;
  /** When given, a schedule for a function it does not know is refused (UnknownFunctionError). */
  registry?: TaskRegistry;
}

function got(value: unknown): string {
  return JSON.stringify(value)?.slice(0, 140) ?? String(value);
}

/** "1h30m" → 5 400 000. Units ms, s, m, h, d; parts in any order, summed. */
export function parseInterval(text: unknown): number {
  const example = '"30s", "5m" or "1h30m" (units ms, s, m, h, d)';
  if (typeof text !== "string" || !/^(\d+(ms|s|m|h|d))+$/.test(text.trim())) {
    throw new InvalidArgumentError(
      `every must be an interval such as ${example} (got ${got(text)})`,
    );
  }
  let ms = 0;
  for (const [, n, unit] of text.trim().matchAll(/(\d+)(ms|s|m|h|d)/g)) {
    ms += Number(n) * (UNIT_MS[unit as string] as number);
  }
  if (ms < MIN_INTERVAL_MS) {
    throw new InvalidArgumentError(
      `every must be at least 1s (got ${got(text)} = ${ms} ms); use "1s" or longer, or a 6-field cron expression`,
    );
  }
  if (ms > MAX_INTERVAL_MS) {
    throw new InvalidArgumentError(
      `every must be at most 366d (got ${got(text)}); use a cron expression for rarer ticks`,
    );
  }
  return ms;
}

/** Refuses an unknown IANA zone with a message naming examples. */
export function checkTimezone(zone: unknown): string {
  if (typeof zone !== "string" || zone.length === 0) {
    throw new InvalidArgumentError(
      `timezone must be an IANA time zone name such as "Europe/Paris" or "UTC" (got ${got(zone)})`,
    );
  }
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
  } catch {
    throw new InvalidArgumentError(
      `timezone ${got(zone)} is not an IANA time zone; use a name such as "Europe/Paris", "America/New_York" or "UTC"`,
    );
  }
  return zone;
}

/** Refuses a cron expression croner cannot read, or one with other than 5 or 6 fields. */
export function checkCron(expression: unknown, timezone: string): string {
  const shape =
    '5 fields "minute hour day-of-month month day-of-week" (e.g. "*/5 * * * *") or 6 with seconds first (e.g. "*/10 * * * * *")';
  if (typeof expression !== "string" || expression.trim().length === 0) {
    throw new InvalidArgumentError(`cron must be ${shape} (got ${got(expression)})`);
  }
  const fields = expression.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    throw new InvalidArgumentError(`cron ${got(expression)} has ${fields} fields; write ${shape}`);
  }
  try {
    const cron = cronOf(expression.trim(), timezone);
    if (cron.nextRun() === null) {
      throw new InvalidArgumentError(
        `cron ${got(expression)} never fires; check its day and month fields`,
      );
    }
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    const reason = (error as Error).message.replace(/^CronPattern: /, "");
    throw new InvalidArgumentError(
      `cron ${got(expression)} is not valid: ${reason}; write ${shape}`,
    );
  }
  return expression.trim();
}

function oneOf<T extends string>(
  field: string,
  value: unknown,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "string" || !allowed.includes(value as T)) {
    throw new InvalidArgumentError(
      `${field} must be one of ${allowed.map((a) => `"${a}"`).join(", ")} (got ${got(value)})`,
    );
  }
  return value as T;
}

function checkId(id: unknown): string {
  if (typeof id !== "string" || !SCHEDULE_ID_PATTERN.test(id)) {
    throw new InvalidArgumentError(
      `id must be 1 to 128 letters, digits or _ . : - such as "nightly-report" (got ${got(id)})`,
    );
  }
  return id;
}

/** A schedule id from a path or a command line, checked like the body's. */
export function parseScheduleId(id: unknown): string {
  return checkId(id);
}

/**
 * Validates one schedule and applies its defaults. Throws InvalidArgumentError naming the field
 * and what to change (UnknownFunctionError for a function the registry lacks).
 */
export function validateSchedule(input: unknown, limits: ScheduleLimits): ScheduleSpec {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new InvalidArgumentError(
      'a schedule must be a JSON object such as {"id":"heartbeat","function_key":"demo.echo","every":"30s"}',
    );
  }
  const raw = input as Record<string, unknown>;
  for (const field of Object.keys(raw)) {
    if (!FIELDS.has(field)) {
      throw new InvalidArgumentError(
        `unknown schedule field ${got(field)}; the fields are ${[...FIELDS].join(", ")}`,
      );
    }
  }
  const id = checkId(raw.id);
  if (typeof raw.function_key !== "string" || !FUNCTION_KEY_PATTERN.test(raw.function_key)) {
    throw new InvalidArgumentError(
      `function_key must match ${FUNCTION_KEY_PATTERN} (got ${got(raw.function_key)})`,
    );
  }
  const when = checkWhen(raw);
  const task = checkTask(raw, limits);
  const missed = oneOf<MissedRunPolicy>("missed", raw.missed, MISSED_RUN_POLICIES, "skip");
  const overlap = oneOf<OverlapPolicy>("overlap", raw.overlap, OVERLAP_POLICIES, "allow");
  const catchUpMax = raw.catch_up_max ?? DEFAULT_CATCH_UP_MAX;
  if (
    !Number.isInteger(catchUpMax) ||
    (catchUpMax as number) < 1 ||
    (catchUpMax as number) > MAX_CATCH_UP_MAX
  ) {
    throw new InvalidArgumentError(
      `catch_up_max must be an integer between 1 and ${MAX_CATCH_UP_MAX} (got ${got(raw.catch_up_max)})`,
    );
  }
  if (raw.paused !== undefined && raw.paused !== null && typeof raw.paused !== "boolean") {
    throw new InvalidArgumentError(`paused must be true or false (got ${got(raw.paused)})`);
  }
  return {
    id,
    function_key: raw.function_key,
    ...when,
    ...task,
    missed,
    catch_up_max: catchUpMax as number,
    overlap,
    paused: raw.paused === true,
  };
}

function checkWhen(
  raw: Record<string, unknown>,
): Pick<ScheduleSpec, "cron" | "timezone" | "every"> {
  const hasCron = raw.cron !== undefined && raw.cron !== null;
  const hasEvery = raw.every !== undefined && raw.every !== null;
  if (hasCron === hasEvery) {
    throw new InvalidArgumentError(
      'give exactly one of cron (e.g. "0 3 * * *" with a timezone) and every (e.g. "30s")',
    );
  }
  if (hasEvery) {
    if (raw.timezone !== undefined && raw.timezone !== null) {
      throw new InvalidArgumentError(
        "timezone applies to cron expressions only; intervals tick on multiples of every since the epoch: remove timezone",
      );
    }
    parseInterval(raw.every);
    return { every: (raw.every as string).trim() };
  }
  const timezone =
    raw.timezone === undefined || raw.timezone === null ? "UTC" : checkTimezone(raw.timezone);
  return { cron: checkCron(raw.cron, timezone), timezone };
}

/** The task fields, checked by the submission validator itself on a probe submission. */
function checkTask(raw: Record<string, unknown>, limits: ScheduleLimits) {
  const metadata = raw.metadata;
  if (metadata !== undefined && metadata !== null && typeof metadata === "object") {
    const keys = Object.keys(metadata);
    if (keys.length > MAX_SCHEDULE_METADATA_KEYS) {
      throw new InvalidArgumentError(
        `metadata has ${keys.length} keys; a schedule's tasks take at most ${MAX_SCHEDULE_METADATA_KEYS} (the scheduler adds 3 gotaskq.* keys to a task's 32): remove some`,
      );
    }
    for (const key of keys) {
      if (key.startsWith("gotaskq.")) {
        throw new InvalidArgumentError(
          `metadata key ${got(key)} is reserved (the scheduler sets gotaskq.* keys); rename it`,
        );
      }
    }
  }
  const probe: Record<string, unknown> = { function_key: raw.function_key };
  for (const field of TASK_FIELDS) {
    if (raw[field] !== undefined && raw[field] !== null) probe[field] = raw[field];
  }
  const valid = validateSubmission(probe, { maxPayloadBytes: limits.maxPayloadBytes });
  if (limits.registry) limits.registry.validatePayload(valid.function_key, valid.payload);
  return {
    payload: valid.payload,
    ...(probe.queue !== undefined ? { queue: valid.queue } : {}),
    ...(probe.priority !== undefined ? { priority: valid.priority } : {}),
    ...(valid.timeout_ms !== undefined ? { timeout_ms: valid.timeout_ms } : {}),
    ...(valid.max_retries !== undefined ? { max_retries: valid.max_retries } : {}),
    ...(valid.backoff !== undefined ? { backoff: valid.backoff } : {}),
    ...(Object.keys(valid.metadata).length > 0 ? { metadata: valid.metadata } : {}),
  };
}
