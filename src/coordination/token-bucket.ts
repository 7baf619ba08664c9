import type { TakeResult, TokenBucketRate } from "./coordination-store.js";

// The token bucket arithmetic shared by the stores that compute it in this process (memory,
// SQLite). Tokens are kept scaled by `intervalMs` so that everything stays an integer: a bucket
// gains `limit` scaled units per millisecond and holds at most `limit × intervalMs` of them,
// so "exactly one token" never reads as 0.9999.

export interface BucketState {
  /** Tokens × intervalMs at `at`. */
  scaled: number;
  /** When `scaled` was computed (epoch ms, the store's clock). */
  at: number;
}

/** The bucket after taking `count` at `now` (unchanged but refilled when refused), and the answer. */
export function takeTokens(
  previous: BucketState | undefined,
  rate: TokenBucketRate,
  count: number,
  now: number,
): { state: BucketState; result: TakeResult } {
  const full = rate.limit * rate.intervalMs;
  // A clock that stepped back refills nothing rather than draining the bucket.
  const elapsed = previous ? Math.max(0, now - previous.at) : 0;
  const scaled =
    previous === undefined || elapsed >= rate.intervalMs
      ? full
      : Math.min(full, previous.scaled + elapsed * rate.limit);
  const wanted = count * rate.intervalMs;
  if (scaled >= wanted) {
    const left = scaled - wanted;
    return {
      state: { scaled: left, at: now },
      result: { taken: true, remaining: Math.floor(left / rate.intervalMs) },
    };
  }
  return {
    state: { scaled, at: now },
    result: { taken: false, retryAfterMs: Math.ceil((wanted - scaled) / rate.limit) },
  };
}
