import { InvalidArgumentError } from "../../core/errors.js";
import type { TokenBucketRate } from "../coordination-store.js";

// The seam's argument rules, checked before anything is sent, with messages that say what to
// change.

/** Longest TTL or lease (ms): ten years; longer is a bug, not a lease. */
const MAX_TTL_MS = 10 * 365 * 86_400_000;
const MAX_LIST_LIMIT = 1_000;

export function checkName(what: string, value: string): void {
  if (typeof value !== "string" || value.length === 0) {
    throw new InvalidArgumentError(
      `${what} must be a non-empty string (got ${JSON.stringify(value)})`,
    );
  }
}

export function checkValue(value: string, maxBytes: number): void {
  if (typeof value !== "string") {
    throw new InvalidArgumentError(`value must be a string (got ${typeof value})`);
  }
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > maxBytes) {
    throw new InvalidArgumentError(
      `value must be at most ${maxBytes} bytes of UTF-8 (got ${bytes}); keep large data elsewhere and store a reference`,
    );
  }
}

export function checkDuration(what: string, ms: number): void {
  if (!Number.isInteger(ms) || ms < 1 || ms > MAX_TTL_MS) {
    throw new InvalidArgumentError(
      `${what} must be a whole number of milliseconds between 1 and ${MAX_TTL_MS} (got ${ms})`,
    );
  }
}

export function checkListLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new InvalidArgumentError(
      `limit must be an integer between 1 and ${MAX_LIST_LIMIT} (got ${limit})`,
    );
  }
}

export function checkRate(rate: TokenBucketRate, count: number): void {
  if (!Number.isSafeInteger(rate?.limit) || rate.limit < 1) {
    throw new InvalidArgumentError(
      `rate.limit must be an integer of at least 1 (got ${rate?.limit})`,
    );
  }
  checkDuration("rate.intervalMs", rate.intervalMs);
  if (!Number.isInteger(count) || count < 1 || count > rate.limit) {
    throw new InvalidArgumentError(
      `count must be an integer between 1 and rate.limit (${rate.limit}) (got ${count}); a bucket never holds more than its limit`,
    );
  }
}

export function checkSlotLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new InvalidArgumentError(`limit must be an integer of at least 1 (got ${limit})`);
  }
}

export function checkDelta(delta: number): void {
  if (!Number.isSafeInteger(delta)) {
    throw new InvalidArgumentError(`delta must be a safe integer (got ${delta})`);
  }
}
