import type { TaskEvent, TaskLogLine, WorkerHeartbeat } from "./tracking-store.js";

// What producers and workers see of tracking: fire-and-forget calls that never throw, never
// block and never wait for the store. The best-effort writer (best-effort-writer.ts) implements it
// in front of a TrackingStore; `noTracking` is the sink for `GOTASKQ_TRACKING_URL=none`.
export interface TrackingSink {
  record(event: TaskEvent): void;
  log(line: TaskLogLine): void;
  heartbeat(heartbeat: WorkerHeartbeat): void;
}

export const noTracking: TrackingSink = {
  record() {},
  log() {},
  heartbeat() {},
};
