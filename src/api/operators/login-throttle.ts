import { InvalidArgumentError } from "../../core/errors.js";

// Login attempts, limited per client socket address and per username, so neither one address
// trying many names nor many addresses trying one name can brute-force a password. Only FAILED
// attempts spend a token: an operator who types the password right is never slowed down, and an
// attacker gets `burst` guesses, then one per `1 / refillPerSecond` seconds. A refused attempt
// does no scrypt work (that is what makes flooding the login cheap to refuse).
//
// In memory, per API process; bounded like the API-key limiter (full buckets are forgotten).

export interface LoginThrottleOptions {
  /** Failed attempts allowed at once per key. */
  burst: number;
  /** Failed attempts regained per second per key. */
  refillPerSecond: number;
  /** Keys held at most. Default 10,000. */
  maxKeys?: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class LoginThrottle {
  readonly #burst: number;
  readonly #rate: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: LoginThrottleOptions) {
    if (!(Number.isInteger(options.burst) && options.burst >= 1)) {
      throw new InvalidArgumentError(
        `burst must be an integer of at least 1 (got ${options.burst})`,
      );
    }
    if (!(options.refillPerSecond > 0 && Number.isFinite(options.refillPerSecond))) {
      throw new InvalidArgumentError(
        `refillPerSecond must be a positive number (got ${options.refillPerSecond})`,
      );
    }
    this.#burst = options.burst;
    this.#rate = options.refillPerSecond;
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** 0 when `key` may try now, else the seconds to wait (for Retry-After). */
  retryAfterSeconds(key: string): number {
    const tokens = this.#tokens(key, this.#now());
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.#rate));
  }

  /** Spends one token of `key` for a failed attempt. */
  failed(key: string): void {
    const now = this.#now();
    const tokens = this.#tokens(key, now);
    this.#buckets.delete(key); // re-insert: Map order then tracks the last failure
    this.#buckets.set(key, { tokens: Math.max(0, tokens - 1), at: now });
    if (this.#buckets.size > this.#maxKeys) this.#sweep(now);
  }

  #tokens(key: string, now: number): number {
    const b = this.#buckets.get(key);
    if (!b) return this.#burst;
    return Math.min(this.#burst, b.tokens + (Math.max(0, now - b.at) * this.#rate) / 1_000);
  }

  #sweep(now: number): void {
    for (const key of this.#buckets.keys()) {
      if (this.#tokens(key, now) >= this.#burst) this.#buckets.delete(key);
    }
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#maxKeys) break;
      this.#buckets.delete(key);
    }
  }
}
