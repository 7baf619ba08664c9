import { InvalidArgumentError } from "../core/errors.js";

// Limits every TrackingStore implementation applies the same way, so a REST client sees one
// behaviour whichever store the server runs on.

export const DEFAULT_LIST_LIMIT = 50;
export const MAX_LIST_LIMIT = 500;
/** Log lines returned by `logs()` when no limit is given: the most recent ones. */
export const DEFAULT_LOG_LIMIT = 1_000;
export const MAX_LOG_LIMIT = 10_000;

function boundedLimit(
  field: string,
  value: number | undefined,
  fallback: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidArgumentError(
      `${field} must be an integer between 1 and ${max} (got ${value})`,
    );
  }
  return value;
}

/** The page size of `list()`: 1–500, default 50. */
export function listLimit(limit: number | undefined): number {
  return boundedLimit("limit", limit, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT);
}

/** How many log lines `logs()` returns: 1–10,000, default 1,000. */
export function logLimit(limit: number | undefined): number {
  return boundedLimit("log limit", limit, DEFAULT_LOG_LIMIT, MAX_LOG_LIMIT);
}

/**
 * An epoch-ms bound as an integer: `x >= t` and `x < t` over integer times mean the same with
 * t rounded up, and a BIGINT comparison in PostgreSQL refuses a fractional parameter.
 */
export function timeBound(field: string, value: number): number {
  if (!Number.isFinite(value)) {
    throw new InvalidArgumentError(`${field} must be a time in epoch milliseconds (got ${value})`);
  }
  return Math.ceil(value);
}

export const MIN_BUCKET_MS = 1_000;
export const MAX_BUCKET_MS = 86_400_000;

/** A throughput bucket width: an integer from 1 s to 1 day. */
export function bucketWidth(bucketMs: number): number {
  if (!Number.isInteger(bucketMs) || bucketMs < MIN_BUCKET_MS || bucketMs > MAX_BUCKET_MS) {
    throw new InvalidArgumentError(
      `bucketMs must be an integer between ${MIN_BUCKET_MS} and ${MAX_BUCKET_MS} (got ${bucketMs})`,
    );
  }
  return bucketMs;
}

/**
 * The text a metadata pair filter looks for in a task's stored metadata (JSON of a string map):
 * `"key":"value"`. In JSON every quote inside a string is escaped, so this text occurs only where
 * the map holds exactly that pair.
 */
export function metadataNeedle(pair: { key: string; value: string }): string {
  if (typeof pair.key !== "string" || typeof pair.value !== "string" || pair.key === "") {
    throw new InvalidArgumentError("a metadata filter needs a non-empty key and a string value");
  }
  return `${JSON.stringify(pair.key)}:${JSON.stringify(pair.value)}`;
}
