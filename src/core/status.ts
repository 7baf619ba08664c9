// The five task statuses (exactly the seed's) and the monotonic merge that lets tracking events
// arrive out of order: an event replaces the tracked state only when it is newer by
// (run, attempt, status rank). `run` counts requeues from the DLQ, `attempt` counts retries
// within a run, and the rank orders the states of one attempt.

export const TASK_STATUSES = ["PENDING", "STARTED", "SUCCESS", "FAILURE", "CANCELED"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const FINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(["SUCCESS", "FAILURE", "CANCELED"]);

export function isTaskStatus(value: unknown): value is TaskStatus {
  return typeof value === "string" && (TASK_STATUSES as readonly string[]).includes(value);
}

export function isFinalStatus(status: TaskStatus): boolean {
  return FINAL_STATUSES.has(status);
}

/** PENDING < STARTED < every final status; the final statuses share one rank. */
export function statusRank(status: TaskStatus): number {
  if (status === "PENDING") return 0;
  if (status === "STARTED") return 1;
  return 2;
}

export interface StatusVersion {
  run: number;
  attempt: number;
  status: TaskStatus;
}

/**
 * Whether `incoming` may replace `current`. Newer (run, attempt, rank) always wins. At an equal
 * version a non-final state may be refreshed (a redelivery re-reports STARTED with a higher
 * delivery count), but the first final state of an attempt is kept: it is what happened.
 */
export function supersedes(incoming: StatusVersion, current: StatusVersion): boolean {
  if (incoming.run !== current.run) return incoming.run > current.run;
  if (incoming.attempt !== current.attempt) return incoming.attempt > current.attempt;
  const a = statusRank(incoming.status);
  const b = statusRank(current.status);
  if (a !== b) return a > b;
  return !isFinalStatus(current.status);
}
