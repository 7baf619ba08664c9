import { InvalidArgumentError } from "../core/errors.js";
import type { TokenBucketRate } from "./coordination-store.js";

// The argument checks every CoordinationStore applies before it touches its backend, in one
// place so that every implementation refuses the same calls with the same messages. Durations
// and counts are integers: Redis's PEXPIRE and SQL's integer columns take nothing else.

export const MAX_LIST_LIMIT = 1_000;

export function checkKey(what: string, key: string): void {
  if (typeof key !== "string" || key.length === 0) {
    throw new InvalidArgumentError(
      `${what} must be a non-empty string (got ${JSON.stringify(key)})`,
    );
  }
}

/** A duration of at least 1 ms. */
export function checkDuration(what: string, ms: number): void {
  if (!Number.isSafeInteger(ms) || ms < 1) {
    throw new InvalidArgumentError(
      `${what} must be a whole number of milliseconds ≥ 1 (got ${ms})`,
    );
  }
}

export function checkValue(value: string, maxValueBytes: number): void {
  if (typeof value !== "string") {
    throw new InvalidArgumentError(`value must be a string (got ${typeof value})`);
  }
  // Cheap bound first: a UTF-8 string takes at most 3 bytes per UTF-16 code unit.
  if (value.length * 3 <= maxValueBytes) return;
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > maxValueBytes) {
    throw new InvalidArgumentError(
      `value must be at most ${maxValueBytes} bytes of UTF-8 (got ${bytes}); store large data elsewhere and keep a reference`,
    );
  }
}

export function checkEntry(key: string, value: string, ttlMs: number, maxValueBytes: number): void {
  checkKey("key", key);
  checkValue(value, maxValueBytes);
  checkDuration("ttlMs", ttlMs);
}

export function checkListLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new InvalidArgumentError(
      `list limit must be an integer between 1 and ${MAX_LIST_LIMIT} (got ${limit})`,
    );
  }
}

/** A count of holders or tokens: an integer ≥ 1. */
export function checkLimit(what: string, limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new InvalidArgumentError(`${what} must be an integer ≥ 1 (got ${limit})`);
  }
}

export function checkTake(name: string, rate: TokenBucketRate, count: number): void {
  checkKey("bucket name", name);
  checkLimit("rate.limit", rate.limit);
  checkDuration("rate.intervalMs", rate.intervalMs);
  if (!Number.isSafeInteger(count) || count < 1 || count > rate.limit) {
    throw new InvalidArgumentError(
      `token count must be an integer between 1 and the bucket's limit ${rate.limit} (got ${count}); a larger count could never be taken`,
    );
  }
}

export function checkSlot(name: string, holder: string): void {
  checkKey("semaphore name", name);
  checkKey("holder", holder);
}

export function checkAdd(name: string, delta: number, ttlMs: number): void {
  checkKey("counter name", name);
  if (!Number.isSafeInteger(delta)) {
    throw new InvalidArgumentError(`delta must be an integer (got ${delta})`);
  }
  checkDuration("ttlMs", ttlMs);
}
