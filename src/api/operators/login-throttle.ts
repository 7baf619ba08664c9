import { createHash } from "node:crypto";
import { InvalidArgumentError } from "../../core/errors.js";
import { type DashboardStore, onCoordinationStore } from "./coordination-access.js";

// Login attempts, limited per client socket address and per username, so neither one address
// trying many names nor many addresses trying one name can brute-force a password. Only FAILED
// attempts spend a token: an operator who types the password right is never slowed down, and an
// attacker gets `burst` guesses, then one per `1 / refillPerSecond` seconds. A refused attempt
// does no scrypt work (that is what makes flooding the login cheap to refuse).
//
// Both live in the coordination store, so the limit holds across API replicas: a token bucket per
// key (refilled by the store's clock, forgotten once full), and, once a failure empties it, a
// "wait" record that lives until the next token is due. The check before an attempt is one read
// of that record; the store has no way to look at a bucket without taking from it, and taking on
// every attempt would spend the budget on correct passwords too. Keys are hashed: a name typed in
// the username box may be a password, and it should not sit readable in the store.

export interface LoginThrottleOptions {
  /** Which limit this is ("address", "username"); keeps the two apart in the store. */
  name: string;
  /** Failed attempts allowed at once per key. */
  burst: number;
  /** Failed attempts regained per second per key. */
  refillPerSecond: number;
}

export class LoginThrottle {
  readonly #store: DashboardStore;
  readonly #name: string;
  readonly #rate: { limit: number; intervalMs: number };

  constructor(store: DashboardStore, options: LoginThrottleOptions) {
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
    this.#store = store;
    this.#name = options.name;
    // The store's bucket refills `limit` per `intervalMs`: burst per burst/rate seconds.
    this.#rate = {
      limit: options.burst,
      intervalMs: Math.round((options.burst / options.refillPerSecond) * 1_000),
    };
  }

  /** 0 when `key` may try now, else the seconds to wait (for Retry-After). */
  async retryAfterSeconds(key: string): Promise<number> {
    const wait = await onCoordinationStore("cannot check the login limit", () =>
      this.#store.read(this.#key("wait", key)),
    );
    return wait ? Math.max(1, Math.ceil(wait.ttlMs / 1_000)) : 0;
  }

  /** Spends one token of `key` for a failed attempt. */
  async failed(key: string): Promise<void> {
    await onCoordinationStore("cannot record the failed login", async () => {
      const took = await this.#store.takeTokens(this.#key("bucket", key), this.#rate);
      const waitMs = took.taken
        ? Math.ceil(Math.max(0, 1 - took.remaining) * this.#msPerToken)
        : took.retryAfterMs;
      if (waitMs >= 1) await this.#store.put(this.#key("wait", key), "1", waitMs);
    });
  }

  get #msPerToken(): number {
    return this.#rate.intervalMs / this.#rate.limit;
  }

  #key(kind: "bucket" | "wait", key: string): string {
    const digest = createHash("sha256").update(key, "utf8").digest("base64url").slice(0, 32);
    return `dashboard:login-${kind}:${this.#name}:${digest}`;
  }
}
