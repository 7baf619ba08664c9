import type { ConformanceCase } from "../../../test/support/conformance-suite.js";
import type { CoordinationStore } from "../coordination-store.js";

// What the coordination conformance suite checks, case by case, and what each case is handed.
// Case files import this and nothing else of the suite, so the suite's entry
// (coordination.case.ts) can import them all without a cycle.

/** Every case, by stable name (used in skip lists), with the title the test report shows. */
export const COORDINATION_CASES = {
  // Keyed entries: claims and small records.
  "claim-if-absent": "a claim takes an absent key once; a second claim sees the holder unchanged",
  "put-read": "put overwrites whatever a key held; read returns the value and a TTL within bounds",
  replace:
    "replace swaps the value and restarts the TTL only while the key holds the expected value",
  release: "release removes a key, and with an expected value never removes a successor's",
  "list-paging": "lists live entries of a prefix in key order, page by page, entries only",
  "value-bytes": "accepts a value of exactly maxValueBytes UTF-8 bytes and refuses one byte more",

  // Batches: claimMany and replaceMany, request by request what claim and replace would answer.
  "claim-many": "claimMany answers for absent, live and expired keys what claim answers one by one",
  "claim-many-repeat":
    "a key given twice in one claimMany: the later request sees the earlier one as holder, with its TTL",
  "replace-many":
    "replaceMany swaps only matching entries, in request order: a repeated key sees the earlier swap",
  "many-full-batch": "a batch of MAX_MANY (1,000) claims or replaces works in one call",
  "many-invalid":
    "a bad request or count refuses the whole batch with InvalidArgumentError and changes nothing",
  "claim-many-race":
    "two clients batching overlapping keys at once: every key has exactly one winner, 10 rounds",

  // Expiry, by the store's clock.
  "entry-expiry": "a claim and a record are absent after their TTL, and present before it",
  "store-clock": "a client whose clock is skewed by an hour neither extends nor shortens a TTL",
  "dead-holder": "a closed holder's claim and semaphore slot free themselves after their TTL",

  // Several clients on one namespace.
  "claim-race": "two clients racing for one key: exactly one wins, 100 rounds",
  "replace-race": "two clients replacing one expected value: exactly one succeeds, 100 rounds",
  "slot-race": "two clients racing for the last semaphore slot: exactly one gets it, 100 rounds",
  namespaces: "two deployment prefixes never see each other's entries, buckets, slots or counters",

  // Flow control and counters.
  "bucket-take": "a token bucket gives up to its limit, then refuses with a sensible retryAfterMs",
  "bucket-refill": "a token bucket refills over time and an idle one is full again",
  "semaphore-limit": "a semaphore admits at most limit holders; release frees a slot",
  "semaphore-renew":
    "renewing or re-acquiring extends a slot; an expired lease frees it and cannot be renewed",
  counter: "add returns running totals, takes negative deltas and forgets a counter after its TTL",

  // Arguments, closing and faults.
  "invalid-arguments": "refuses bad arguments with InvalidArgumentError and changes nothing",
  closed: "a closed client rejects every call with unavailable; close is idempotent",
  "store-away": "when the store goes away, calls reject with unavailable in bounded time",
} as const;

export type CoordinationCaseName = keyof typeof COORDINATION_CASES;

/** What a case gets: every client opened through it is closed after the case, whatever happens. */
export interface CoordinationCaseContext {
  /** Another client on the harness's namespace, as another process would connect. */
  open(): Promise<CoordinationStore>;
  /** A client of the same server under another deployment prefix, named by `name`. */
  openNamespace(name: string): Promise<CoordinationStore>;
  /**
   * A client on the harness's namespace whose own clock reads `skewMs` off; a plain client when
   * the implementation never reads the client's clock (nothing to skew).
   */
  openSkewed(skewMs: number): Promise<CoordinationStore>;
  /** Makes the store unreachable for this harness's clients (absent: the case is skipped). */
  breakConnection?: () => Promise<void>;
  /** The operation timeout the harness opens clients with (ms); bounds the fault cases' waits. */
  operationTimeoutMs: number;
}

export type CoordinationCase = ConformanceCase<CoordinationCaseContext>;
