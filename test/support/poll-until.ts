// The bounded wait every conformance suite and adapter test shares: polls until a condition
// holds, and fails with a message naming what it waited for once its own deadline passes, so a
// backend that never delivers or never expires fails a case instead of hanging it.

/** Polls `check` every `intervalMs` (default 10) until it returns a truthy value or the deadline passes. */
export async function pollUntil<T>(
  check: () => T | Promise<T>,
  options: { timeoutMs: number; what: string; intervalMs?: number },
): Promise<NonNullable<T>> {
  const deadline = Date.now() + options.timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${options.timeoutMs} ms waiting for ${options.what} (last: ${JSON.stringify(last)})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 10));
  }
}
