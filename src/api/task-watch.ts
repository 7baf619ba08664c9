import { NotFoundError } from "../core/errors.js";
import { parseTaskId } from "../core/ids.js";
import { sleep } from "../core/lifecycle.js";
import { isFinalStatus } from "../core/status.js";
import type { TaskRecord, TrackingStore } from "../tracking/tracking-store.js";

// Following one task's status for streaming transports (gRPC WatchTask). The tracking store is
// the only place statuses are visible to an API replica (workers write there, never to the API),
// so this polls it: cheap (one primary-key read per poll), works on every store and from every
// replica. A poll of 150 ms keeps a watcher at most that far behind the store.

export interface WatchOptions {
  /** Between two reads of the record (ms). Default 150. */
  pollMs?: number;
  /**
   * How long an id that was never tracked is waited for before failing with not_found (ms): the
   * PENDING event of a task submitted a moment ago may still be in the writer's buffer. Default 5000.
   */
  notFoundAfterMs?: number;
  now?: () => number;
}

export const DEFAULT_WATCH_POLL_MS = 150;
export const DEFAULT_WATCH_NOT_FOUND_MS = 5_000;

/**
 * Yields the record when first seen and again on every change of (run, attempt, status); ends
 * after yielding a final status, or quietly when `signal` aborts. Tracking errors propagate.
 */
export async function* watchTask(
  tracking: Pick<TrackingStore, "get">,
  rawId: unknown,
  signal: AbortSignal,
  options: WatchOptions = {},
): AsyncGenerator<TaskRecord, void, undefined> {
  const id = parseTaskId(rawId);
  const now = options.now ?? Date.now;
  const pollMs = options.pollMs ?? DEFAULT_WATCH_POLL_MS;
  const deadline = now() + (options.notFoundAfterMs ?? DEFAULT_WATCH_NOT_FOUND_MS);
  let last: string | undefined;
  while (!signal.aborted) {
    const record = await tracking.get(id);
    if (record) {
      const version = `${record.run}:${record.attempt}:${record.status}`;
      if (version !== last) {
        last = version;
        yield record;
      }
      if (isFinalStatus(record.status)) return;
    } else if (last === undefined && now() >= deadline) {
      throw new NotFoundError(
        `no task ${id} in the tracking store; check the id (a task appears there within moments of its submission)`,
      );
    }
    try {
      await sleep(pollMs, signal);
    } catch {
      return; // aborted: the caller went away
    }
  }
}
