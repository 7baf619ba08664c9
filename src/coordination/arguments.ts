import { InvalidArgumentError } from "../core/errors.js";
import {
  type ClaimRequest,
  MAX_MANY,
  type ReplaceRequest,
  type TokenBucketRate,
} from "./coordination-store.js";

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

/** `expected` of a compare-and-replace: any string, its size bounded by the value it must equal. */
export function checkExpected(expected: string): void {
  if (typeof expected !== "string") {
    throw new InvalidArgumentError(`expected must be a string (got ${typeof expected})`);
  }
}

/**
 * The requests of a `claimMany`: 1 to MAX_MANY, each as `claim` checks it (`checkEntry`), plus
 * whatever `more` refuses on a store (PostgreSQL's text rules). One bad request refuses the whole
 * call; the message names its index.
 */
export function checkClaimMany(
  requests: readonly ClaimRequest[],
  maxValueBytes: number,
  more?: (request: ClaimRequest) => void,
): void {
  checkMany("claimMany", requests, (request) => {
    checkEntry(request.key, request.value, request.ttlMs, maxValueBytes);
    more?.(request);
  });
}

/** The requests of a `replaceMany`, as `checkClaimMany` with `replace`'s checks. */
export function checkReplaceMany(
  requests: readonly ReplaceRequest[],
  maxValueBytes: number,
  more?: (request: ReplaceRequest) => void,
): void {
  checkMany("replaceMany", requests, (request) => {
    checkEntry(request.key, request.value, request.ttlMs, maxValueBytes);
    checkExpected(request.expected);
    more?.(request);
  });
}

function checkMany<Request>(
  what: string,
  requests: readonly Request[],
  checkOne: (request: Request) => void,
): void {
  if (!Array.isArray(requests)) {
    throw new InvalidArgumentError(
      `${what} takes an array of 1 to ${MAX_MANY} requests (got ${requests === null ? "null" : typeof requests})`,
    );
  }
  if (requests.length < 1 || requests.length > MAX_MANY) {
    throw new InvalidArgumentError(
      `${what} takes 1 to ${MAX_MANY} requests (got ${requests.length}); ${
        requests.length === 0
          ? "skip the call when there is nothing to send"
          : "split larger batches"
      }`,
    );
  }
  requests.forEach((request, index) => {
    try {
      if (typeof request !== "object" || request === null) {
        throw new InvalidArgumentError(
          `must be an object (got ${request === null ? "null" : typeof request})`,
        );
      }
      checkOne(request);
    } catch (error) {
      if (!(error instanceof InvalidArgumentError)) throw error;
      throw new InvalidArgumentError(
        `${what} request ${index}: ${error.message}; nothing of this call was applied`,
      );
    }
  });
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

/** A deployment prefix every store can embed in keys, columns or key names. */
const PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * The options every store takes, with their defaults: the deployment prefix (`gotaskq`) and the
 * bound on each call (5 s). `store` names the store in messages; `minTimeoutMs` is the shortest
 * bound it can honour (a network store needs 100 ms to tell slow from gone; SQLite's busy wait
 * works down to 1 ms).
 */
export function resolveStoreOptions(
  store: string,
  options: { prefix?: string; operationTimeoutMs?: number },
  minTimeoutMs = 100,
): { prefix: string; operationTimeoutMs: number } {
  const prefix = options.prefix ?? "gotaskq";
  if (!PREFIX.test(prefix)) {
    throw new InvalidArgumentError(
      `${store} coordination prefix must be 1–64 letters, digits or _.:- (got ${JSON.stringify(prefix)})`,
    );
  }
  const operationTimeoutMs = options.operationTimeoutMs ?? 5_000;
  if (
    !Number.isInteger(operationTimeoutMs) ||
    operationTimeoutMs < minTimeoutMs ||
    operationTimeoutMs > 600_000
  ) {
    throw new InvalidArgumentError(
      `${store} coordination operationTimeoutMs must be an integer between ${minTimeoutMs} and 600000 (got ${operationTimeoutMs})`,
    );
  }
  return { prefix, operationTimeoutMs };
}
