import { InvalidArgumentError } from "../core/errors.js";
import type {
  PurgeResult,
  TaskEvent,
  TaskLogLine,
  TaskPage,
  TaskRecord,
  ThroughputBucket,
  TrackingStore,
  WorkerHeartbeat,
} from "./tracking-store.js";

// GOTASKQ_TRACKING_URL=none: tracking switched off. Writes are accepted and discarded, reads
// find nothing (the API answers 404 for a task it cannot see, which is the honest answer).

export class NoneTrackingStore implements TrackingStore {
  readonly kind = "none";

  async migrate(): Promise<void> {}

  async record(_events: readonly TaskEvent[]): Promise<void> {}

  async appendLogs(_lines: readonly TaskLogLine[]): Promise<void> {}

  async heartbeat(_workers: readonly WorkerHeartbeat[]): Promise<void> {}

  async get(_taskId: string): Promise<TaskRecord | undefined> {
    return undefined;
  }

  async list(): Promise<TaskPage> {
    return { tasks: [] };
  }

  async logs(): Promise<TaskLogLine[]> {
    return [];
  }

  async updates(): Promise<TaskRecord[]> {
    return [];
  }

  async throughput(): Promise<ThroughputBucket[]> {
    return [];
  }

  async workers(): Promise<WorkerHeartbeat[]> {
    return [];
  }

  async purge(): Promise<PurgeResult> {
    return { tasks: 0, logs: 0, workers: 0 };
  }

  async close(): Promise<void> {}
}

export function createNoneTrackingStore(): TrackingStore {
  return new NoneTrackingStore();
}

/** The URL schemes `open` understands: `none` has no colon, so it is its own scheme. */
export const SCHEMES: readonly string[] = ["none", "none:"];

export async function open(url: string): Promise<TrackingStore> {
  if (url !== "none" && url !== "none://") {
    throw new InvalidArgumentError(
      `tracking URL ${JSON.stringify(url)} is not understood; write none (or none://) to switch tracking off`,
    );
  }
  return createNoneTrackingStore();
}
