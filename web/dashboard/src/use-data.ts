import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, errorText } from "./api";

// Loads data for a page: runs `load` when its deps change, again every `refreshMs` when given,
// and whenever the page calls `reload` (a live event, after an action). Answers of superseded
// loads are dropped, so a slow old answer never overwrites a newer one.

export interface Data<T> {
  data: T | undefined;
  error: string | undefined;
  /** The HTTP status of the last failed load (0 when the server did not answer). */
  errorStatus: number | undefined;
  loading: boolean;
  reload: () => void;
}

export function useData<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: readonly unknown[],
  options: { refreshMs?: number } = {},
): Data<T> {
  const [state, setState] = useState<{
    data?: T;
    error?: string;
    errorStatus?: number;
    loading: boolean;
  }>({
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const latest = useRef(load);
  latest.current = load;
  const reload = useCallback(() => setTick((t) => t + 1), []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: deps are the caller's; tick reloads
  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    latest
      .current(controller.signal)
      .then((data) => {
        if (!controller.signal.aborted) setState({ data, loading: false });
      })
      .catch((error: unknown) => {
        if (!controller.signal.aborted)
          setState((s) => ({
            data: s.data,
            error: errorText(error),
            errorStatus: error instanceof ApiError ? error.status : undefined,
            loading: false,
          }));
      });
    return () => controller.abort();
  }, [...deps, tick]);

  useEffect(() => {
    if (!options.refreshMs) return;
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") reload();
    }, options.refreshMs);
    return () => clearInterval(timer);
  }, [options.refreshMs, reload]);

  return {
    data: state.data,
    error: state.error,
    errorStatus: state.errorStatus,
    loading: state.loading,
    reload,
  };
}

/** A function that runs `fn` at most once per `ms`, trailing calls folded into one. */
export function useThrottled(fn: () => void, ms: number): () => void {
  const latest = useRef(fn);
  latest.current = fn;
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const last = useRef(0);
  useEffect(() => () => clearTimeout(timer.current), []);
  return useCallback(() => {
    if (timer.current !== undefined) return;
    const wait = Math.max(0, last.current + ms - Date.now());
    timer.current = setTimeout(() => {
      timer.current = undefined;
      last.current = Date.now();
      latest.current();
    }, wait);
  }, [ms]);
}

/** The current time, refreshed every `ms` (for "12 s ago" labels). */
export function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}
