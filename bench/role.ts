import type { ChildSpec } from "./protocol.js";

// The contract each system's scenario module fulfils inside a child process: `prepare` connects
// and does everything that is not measured (open files, connect, register handlers); `run` does
// the measured work and resolves when it is complete; `close` releases everything. A server
// (API phase) is ready once it listens, and its `run` lasts until the orchestrator's `stop`.

export interface RoleOutcome {
  count: number;
  /**
   * `performance.now()` when the measured work ended, when `run` did unmeasured work after it
   * (e.g. flushing the tracking writer to report its numbers). Default: when `run` resolved.
   */
  finishedAt?: number;
  details?: Record<string, number | string>;
}

export interface PreparedRole {
  /** A server's address, sent to the orchestrator with `ready`. */
  endpoint?: string;
  /** `stop` aborts when the orchestrator ends the measured window (servers wait for it). */
  run(stop: AbortSignal): Promise<RoleOutcome>;
  close(): Promise<void>;
}

export type PrepareRole = (spec: ChildSpec) => Promise<PreparedRole>;

/** Indices [start, end) of each publish call: `total` tasks in batches of `size`. */
export function* batches(total: number, size: number): Generator<[number, number]> {
  for (let start = 0; start < total; start += size) yield [start, Math.min(total, start + size)];
}

/** A promise with its settle functions, for "resolve when the Nth completion arrives". */
export function deferred<T>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve: (value: T) => void = () => {};
  let reject: (error: unknown) => void = () => {};
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
