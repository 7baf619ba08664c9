import type { TaskEvent, TaskLogLine, WorkerHeartbeat } from "./tracking-store.js";

// What producers and workers see of tracking: fire-and-forget calls that never throw, never
// block and never wait for the store. The best-effort writer (best-effort-writer.ts) implements it
// in front of a TrackingStore; `noTracking` is the sink for `GOTASKQ_TRACKING_URL=none`.
export interface TrackingSink {
  /**
   * false when every call is a no-op, so callers may skip building what they would pass (events
   * cost more to build than to drop). Read at each call, so a sink may change it. Default true.
   */
  readonly enabled?: boolean;
  record(event: TaskEvent): void;
  log(line: TaskLogLine): void;
  heartbeat(heartbeat: WorkerHeartbeat): void;
}

export const noTracking: TrackingSink = {
  enabled: false,
  record() {},
  log() {},
  heartbeat() {},
};
