import { encodeEnvelope } from "../src/core/envelope.js";
import { newTaskId } from "../src/core/ids.js";

// The message every raw ceiling sends: a real v1 envelope for the no-op task, the same bytes a
// GoTaskQ producer would publish for it, so a raw column and GoTaskQ's move the same payload.

export interface NoopTask {
  /** The task's number in the run; it is the whole payload (`{ n }`). */
  n: number;
  queue: string;
  /** One time for the whole run (ISO 8601), taken before the measured work. */
  createdAt: string;
  /** Default: a new task id. A ceiling that also sends the id beside the body passes its own. */
  id?: string;
}

/** The encoded envelope of no-op task `n`: priority 5, first attempt, no metadata. */
export function noopEnvelope({ n, queue, createdAt, id = newTaskId() }: NoopTask): Uint8Array {
  return encodeEnvelope({
    v: 1,
    id,
    function_key: "bench.noop",
    payload: { n },
    queue,
    priority: 5,
    attempt: 0,
    run: 0,
    created_at: createdAt,
    metadata: {},
  });
}
