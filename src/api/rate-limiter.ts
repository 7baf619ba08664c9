import { InvalidArgumentError } from "../core/errors.js";

// Per-API-key request budget: a token bucket per principal name (never per IP or header, which a
// client can spoof or share). Each key holds up to `burst` tokens, refilled at `ratePerSecond`;
// a request takes one. In-process only: with N API replicas a key gets N times the budget,
// which is what stateless replicas can offer without a shared store.
//
// Memory is bounded: a bucket that has refilled completely is indistinguishable from a new one,
// so sweeps drop those; past `maxKeys` buckets the least recently created are dropped too.

export interface TokenBucketOptions {
  /** Sustained requests per second per key. */
  ratePerSecond: number;
  /** Most requests a key can make at once after being idle. */
  burst: number;
  /** Clock in epoch ms (tests). Default Date.now. */
  now?: () => number;
  /** Buckets kept at most. Default 10,000. */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was computed (epoch ms). */
  at: number;
}

export type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number };

const OK: TakeResult = { ok: true };
/** A sweep runs at most this often (ms). */
const SWEEP_INTERVAL_MS = 10_000;

export class TokenBucketLimiter {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly #now: () => number;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, Bucket>();
  #sweptAt: number;

  constructor(options: TokenBucketOptions) {
    const { ratePerSecond, burst } = options;
    if (!(Number.isFinite(ratePerSecond) && ratePerSecond > 0)) {
      throw new InvalidArgumentError(
        `ratePerSecond must be a positive number (got ${ratePerSecond})`,
      );
    }
    if (!(Number.isInteger(burst) && burst >= 1)) {
      throw new InvalidArgumentError(`burst must be an integer of at least 1 (got ${burst})`);
    }
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.#now = options.now ?? Date.now;
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#sweptAt = this.#now();
  }

  /** Takes one token from `key`'s bucket, or says how long until one is available. */
  take(key: string): TakeResult {
    const now = this.#now();
    if (now - this.#sweptAt >= SWEEP_INTERVAL_MS || this.#buckets.size > this.#maxKeys) {
      this.#sweep(now);
    }
    const bucket = this.#buckets.get(key);
    if (!bucket) {
      this.#buckets.set(key, { tokens: this.burst - 1, at: now });
      return OK;
    }
    const tokens = Math.min(
      this.burst,
      bucket.tokens + (Math.max(0, now - bucket.at) * this.ratePerSecond) / 1_000,
    );
    bucket.at = now;
    if (tokens >= 1) {
      bucket.tokens = tokens - 1;
      return OK;
    }
    bucket.tokens = tokens;
    return {
      ok: false,
      retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.ratePerSecond)),
    };
  }

  /** Buckets currently held (tests, metrics). */
  get size(): number {
    return this.#buckets.size;
  }

  #sweep(now: number): void {
    this.#sweptAt = now;
    const fullAfterMs = (1_000 * this.burst) / this.ratePerSecond;
    for (const [key, bucket] of this.#buckets) {
      if (now - bucket.at >= fullAfterMs) this.#buckets.delete(key);
    }
    // Still too many active keys: drop the oldest-created (Map order) until within bounds.
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#maxKeys) break;
      this.#buckets.delete(key);
    }
  }
}
