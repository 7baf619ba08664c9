// Timers for delays up to the broker's 30-day limit. Node's setTimeout silently fires at once for
// anything above 2^31-1 ms (about 24.8 days), so longer waits are chained in steps.

const MAX_TIMEOUT_MS = 2_147_483_647;

export interface TimerHandle {
  timeout: ReturnType<typeof setTimeout> | undefined;
}

export function startTimer(ms: number, fire: () => void): TimerHandle {
  const handle: TimerHandle = { timeout: undefined };
  const arm = (remaining: number): void => {
    const step = Math.min(remaining, MAX_TIMEOUT_MS);
    handle.timeout = setTimeout(() => {
      if (remaining > step) arm(remaining - step);
      else {
        handle.timeout = undefined;
        fire();
      }
    }, step);
  };
  arm(Math.max(0, ms));
  return handle;
}

export function cancelTimer(handle: TimerHandle | undefined): void {
  if (handle?.timeout !== undefined) {
    clearTimeout(handle.timeout);
    handle.timeout = undefined;
  }
}
