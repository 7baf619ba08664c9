// The coordination store seam: where processes agree on something (an idempotency key taken
// once, a cron tick fired once, a rate limit shared by every worker, a chord joined once, a
// dashboard session seen by every API replica). The broker cannot serve (RabbitMQ and SQS hold
// no keys) and the tracking store must not (best-effort; workers never read it), so this third
// seam is small, atomic and authoritative for what it holds.
//
// Guarantees every implementation gives (and the shared conformance suite in
// `conformance/coordination.case.ts` checks against a real server):
// - Every operation is atomic: one Lua script on Redis, one statement or transaction on SQL, one
//   synchronous step in memory. Two processes racing for one key see exactly one winner.
// - Every entry, bucket, slot and counter carries a TTL measured by the STORE's clock (Redis
//   PEXPIRE / TIME, the database's clock), never the caller's: a client with a skewed clock
//   neither keeps a key alive nor expires it early. An expired entry behaves as absent. So a dead
//   holder never blocks anyone for longer than its TTL or lease.
// - Keys are namespaced by the deployment prefix given when the store was opened; two
//   deployments on one server never see each other's keys. Callers pass short keys
//   ("idem:abc"); the store adds the prefix.
// - Every call is bounded by the store's operation timeout; a store that cannot be reached or
//   does not answer in time rejects with `UnavailableError` (code `unavailable`), never hangs.
//   Bad arguments (an empty key, a TTL below 1 ms, a limit below 1) reject with
//   `InvalidArgumentError` before anything is sent.
// - Values are strings (callers encode JSON themselves) of at most `limits.maxValueBytes`.
//
// Internal: reshape freely, but keep it this small. Client SDK types never cross it.

/** A live entry: its value and how long it still lives, by the store's clock. */
export interface Entry {
  value: string;
  /** Milliseconds until it expires (>= 1 while it is live). */
  ttlMs: number;
}

export type ClaimResult =
  /** The key was absent (or expired) and now holds the caller's value. */
  | { claimed: true }
  /** A live entry holds the key; it is unchanged. */
  | { claimed: false; holder: Entry };

export interface ListedEntry extends Entry {
  /** The caller's key (without the deployment prefix). */
  key: string;
}

export interface EntryPage {
  /** Live entries whose key starts with the prefix, in key order. */
  entries: ListedEntry[];
  /** Pass as `after` to read the next page; absent on the last page. */
  nextAfter?: string;
}

export interface TokenBucketRate {
  /** Tokens the bucket holds when full, and how many it gains per `intervalMs`. */
  limit: number;
  intervalMs: number;
}

export type TakeResult =
  | { taken: true /** Tokens left after this take. */; remaining: number }
  | {
      taken: false /** When enough tokens will be there (ms from now, store's clock). */;
      retryAfterMs: number;
    };

export type AcquireResult =
  | { acquired: true }
  | { acquired: false /** Slots held by others right now. */; held: number };

/** One claim of a `claimMany` call. */
export interface ClaimRequest {
  key: string;
  value: string;
  ttlMs: number;
}

/** One compare-and-replace of a `replaceMany` call. */
export interface ReplaceRequest {
  key: string;
  expected: string;
  value: string;
  ttlMs: number;
}

/** Most items one `claimMany` / `replaceMany` call takes (a REST batch's size). */
export const MAX_MANY = 1_000;

export interface CoordinationLimits {
  /** Largest value accepted, in bytes (UTF-8). */
  maxValueBytes: number;
}

export interface CoordinationStore {
  readonly kind: string;
  readonly limits: CoordinationLimits;

  // --- Keyed entries: claims, small records (sessions, schedule definitions, join results) ---

  /** Sets `key` to `value` for `ttlMs` unless a live entry holds it (then says who does). */
  claim(key: string, value: string, ttlMs: number): Promise<ClaimResult>;
  /** Sets `key` to `value` for `ttlMs`, whatever it held (a record's upsert). */
  put(key: string, value: string, ttlMs: number): Promise<void>;
  /** The live entry of `key`, or undefined. */
  read(key: string): Promise<Entry | undefined>;
  /**
   * Replaces the value (and restarts the TTL) only if `key` still holds `expected`; false when it
   * holds something else or nothing (expired entries hold nothing).
   */
  replace(key: string, expected: string, value: string, ttlMs: number): Promise<boolean>;
  /**
   * `claim` of every request in one round trip (one Lua call, one transaction or statement;
   * PostgreSQL adds one to re-send claims that lost a race to a concurrent commit): results in
   * request order, each exactly what `claim` would have answered had the requests run one after
   * another in that order (a key given twice: the later sees the earlier as its holder). Each
   * claim is atomic; the call as a whole need not be. 1 to MAX_MANY requests; one bad request
   * refuses the whole call before anything is sent.
   */
  claimMany(requests: readonly ClaimRequest[]): Promise<ClaimResult[]>;
  /**
   * `replace` of every request in one round trip, results in request order (as `claimMany`;
   * PostgreSQL adds a statement per repetition of a key within the call).
   */
  replaceMany(requests: readonly ReplaceRequest[]): Promise<boolean[]>;
  /**
   * Removes `key`; with `expected`, only if it still holds that value (a holder releasing its own
   * claim never removes a successor's). True when an entry was removed.
   */
  release(key: string, expected?: string): Promise<boolean>;
  /** Live entries whose key starts with `prefix`, in key order, `limit` (1–1000) at a time. */
  list(prefix: string, options: { limit: number; after?: string }): Promise<EntryPage>;

  // --- Flow control ---

  /**
   * Takes `count` (default 1) tokens from the bucket `name`, which refills continuously at
   * `rate.limit` per `rate.intervalMs` up to `rate.limit`; takes none when there are not enough.
   * A bucket untouched for a full interval is forgotten (it would be full anyway).
   */
  takeTokens(name: string, rate: TokenBucketRate, count?: number): Promise<TakeResult>;
  /**
   * A slot of the counting semaphore `name` (at most `limit` holders at once) for `holder`, held
   * for `leaseMs` unless renewed. Acquiring a slot the holder already has renews it.
   */
  acquireSlot(name: string, limit: number, holder: string, leaseMs: number): Promise<AcquireResult>;
  /** Extends the holder's slot; false when it no longer holds one (its lease expired). */
  renewSlot(name: string, holder: string, leaseMs: number): Promise<boolean>;
  /** Frees the holder's slot (nothing when it holds none). */
  releaseSlot(name: string, holder: string): Promise<void>;

  // --- Counters ---

  /**
   * Adds `delta` (an integer, may be negative) to the counter `name` and returns the new value;
   * a counter starts at 0 and lives `ttlMs` from its latest change.
   */
  add(name: string, delta: number, ttlMs: number): Promise<number>;

  /** Resolves when the store answers; rejects with `unavailable` otherwise. */
  ping(): Promise<void>;
  /** Idempotent; later calls reject with `unavailable`. */
  close(): Promise<void>;
}
