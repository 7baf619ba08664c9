import type { ConformanceCase } from "../../../test/support/conformance-suite.js";
import type { TrackingStore } from "../tracking-store.js";

// What the tracking conformance suite checks, case by case, and what each case is handed. Case
// files import this and nothing else of the suite, so the suite's entry (tracking.case.ts) can
// import them all without a cycle.

/** Every case, by stable name (used in skip lists), with the title the test report shows. */
export const TRACKING_CASES = {
  // The monotonic merge: late, duplicated and reordered events converge.
  "late-submission-keeps-success": "keeps SUCCESS when STARTED and the submission arrive after it",
  "any-order": "converges to the same record whatever the order and batching of events",
  "lifecycle-outcome": "shows the whole lifecycle's outcome, and a running retry's error",
  "duplicate-events": "is idempotent under duplicated events",
  "first-final-state": "keeps the first final state of an attempt",
  "redelivered-attempt": "refreshes a redelivered attempt that has not finished",
  "older-attempt": "ignores events of an older attempt",
  "retry-clears-outcome":
    "clears the previous attempt's outcome on retry but keeps its error visible",
  "new-run-wins": "lets a new run win after FAILURE and ignores the old run's late events",
  "late-submission-fills": "fills descriptive fields from a submission that arrives last",
  "batch-thousands": "records a batch of thousands of events in one call",
  "json-and-unicode": "round-trips JSON payloads, results and unicode text",

  // Lists, filters, text search and cursors.
  "list-filters": "lists newest first and filters by status, function key, queue and time range",
  "text-search":
    "searches id, function key and error message case-insensitively with % and _ literal",
  "metadata-filter":
    "filters by an exact metadata pair (case-sensitive, no partial keys or values)",
  "cursor-paging": "pages with a cursor without skipping or repeating records",
  "cursor-left-set": "continues from a cursor whose task has since left the filtered set",
  "paging-arguments": "rejects a cursor it did not issue and a limit out of range",

  // Logs, heartbeats, retention, migrations and several writers on one database.
  logs: "returns log lines oldest first, the most recent ones when limited",
  heartbeats: "keeps the latest heartbeat per worker and filters by seenSince",
  purge: "purges tasks, logs and workers older than the cut-off",
  "migrate-again": "migrates again and from a second instance without harm",
  "concurrent-writers": "converges when two store instances record the same tasks concurrently",

  // updates() and throughput(): the dashboard's live stream and overview.
  "updates-order": "lists updates by latest event time, oldest first, and pages after a key",
  "updates-live": "shows a change in updates as soon as it is recorded",
  throughput: "counts finished tasks per queue and minute bucket",
} as const;

export type TrackingCaseName = keyof typeof TRACKING_CASES;

/**
 * What a case gets: `store` is migrated before the case; every store opened through it is closed
 * after the case, whatever happens.
 */
export interface TrackingCaseContext {
  store: TrackingStore;
  /** Another store on the same database, as a second process would open it (not migrated). */
  reopen(): Promise<TrackingStore>;
}

export type TrackingCase = ConformanceCase<TrackingCaseContext>;
