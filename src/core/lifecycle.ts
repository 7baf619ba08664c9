// One lifecycle for every long-running thing (worker, loops, servers): `start()` resolves once it
// is ready to do its job, `stop()` is idempotent and resolves once everything it started has ended.
export interface Service {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
