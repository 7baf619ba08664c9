import { InvalidArgumentError } from "./errors.js";

// How long to wait before attempt N+1. Exponential with full jitter is the default because it
// spreads a burst of failing tasks instead of retrying them in lock step (AWS's "full jitter").

export type BackoffPolicy =
  | { type: "exponential"; base_ms: number; max_ms: number }
  | { type: "fixed"; delay_ms: number };

/** A per-function backoff computed in code; it never travels on the wire. */
export type CustomBackoff = (attempt: number, error: unknown) => number;

export const DEFAULT_BACKOFF: BackoffPolicy = {
  type: "exponential",
  base_ms: 1_000,
  max_ms: 3_600_000,
};

/**
 * Longest delay accepted: 30 days, every broker's `limits.maxDelayMs` (the contract asks for at
 * least 7, so a weekly job can wait in the broker); also the cap for backoff.
 */
export const MAX_DELAY_MS = 30 * 24 * 3_600_000;

/**
 * Delay before retrying after `attempt` (0-based: the attempt that just failed) failed.
 * `random` is injectable so tests are deterministic.
 */
export function backoffDelayMs(
  policy: BackoffPolicy | CustomBackoff,
  attempt: number,
  error: unknown,
  random: () => number = Math.random,
): number {
  if (typeof policy === "function") {
    const ms = policy(attempt, error);
    return Number.isFinite(ms) && ms > 0 ? Math.min(Math.floor(ms), MAX_DELAY_MS) : 0;
  }
  if (policy.type === "fixed") return policy.delay_ms;
  const ceiling = Math.min(policy.max_ms, policy.base_ms * 2 ** Math.min(attempt, 52));
  return Math.floor(random() * ceiling);
}

export function parseBackoff(value: unknown, field = "backoff"): BackoffPolicy {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(
      `${field} must be an object such as {"type":"exponential","base_ms":1000,"max_ms":3600000} or {"type":"fixed","delay_ms":5000}`,
    );
  }
  const v = value as Record<string, unknown>;
  const ms = (key: string, fallback?: number): number => {
    const raw = v[key] ?? fallback;
    if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 0 || raw > MAX_DELAY_MS) {
      throw new InvalidArgumentError(
        `${field}.${key} must be an integer number of milliseconds between 0 and ${MAX_DELAY_MS} (got ${JSON.stringify(raw)})`,
      );
    }
    return raw;
  };
  if (v.type === "exponential") {
    const base = ms("base_ms", 1_000);
    const max = ms("max_ms", 3_600_000);
    if (max < base) {
      throw new InvalidArgumentError(
        `${field}.max_ms (${max}) must not be below ${field}.base_ms (${base})`,
      );
    }
    return { type: "exponential", base_ms: base, max_ms: max };
  }
  if (v.type === "fixed") return { type: "fixed", delay_ms: ms("delay_ms") };
  throw new InvalidArgumentError(
    `${field}.type must be "exponential" or "fixed" (got ${JSON.stringify(v.type)})`,
  );
}
