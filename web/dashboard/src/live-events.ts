import { useEffect, useRef, useSyncExternalStore } from "react";
import { request } from "./api";
import type { TaskRecord } from "./wire";

// One EventSource (/v1/events) for the whole app while an operator is logged in. Pages subscribe
// to task changes; after the stream dropped and came back they are told to resync (events sent
// while it was down are lost, so they fetch again). EventSource reconnects by itself after a
// network error; when the server refuses the stream (401 after a logout elsewhere) it gives up,
// so we probe the session, which sends the app to the login page if it ended, and retry later.

export type LiveStatus = "connecting" | "live" | "down";

export type LiveEvent = { kind: "task"; task: TaskRecord } | { kind: "resync" };

const listeners = new Set<(event: LiveEvent) => void>();
const statusListeners = new Set<() => void>();
let source: EventSource | undefined;
let status: LiveStatus = "down";
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let wasLive = false;

function setStatus(next: LiveStatus): void {
  if (next === status) return;
  status = next;
  for (const listener of statusListeners) listener();
}

function emit(event: LiveEvent): void {
  for (const listener of listeners) listener(event);
}

// Task events are delivered in batches every FLUSH_MS, the latest per task only: React batches
// the state updates of one flush into one render, so a busy queue (thousands of changes a
// second) costs a few renders a second, not one per change.
const FLUSH_MS = 100;
const pending = new Map<string, TaskRecord>();
let flushTimer: ReturnType<typeof setTimeout> | undefined;

function queueTask(task: TaskRecord): void {
  pending.delete(task.id); // re-insert: keeps the map in order of each task's latest change
  pending.set(task.id, task);
  if (flushTimer !== undefined) return;
  flushTimer = setTimeout(() => {
    flushTimer = undefined;
    const tasks = [...pending.values()];
    pending.clear();
    for (const t of tasks) emit({ kind: "task", task: t });
  }, FLUSH_MS);
}

function open(): void {
  setStatus("connecting");
  const es = new EventSource("/v1/events", { withCredentials: true });
  source = es;
  es.onopen = () => {
    setStatus("live");
    if (wasLive) emit({ kind: "resync" });
    wasLive = true;
  };
  es.addEventListener("task", (message) => {
    let task: unknown;
    try {
      task = JSON.parse((message as MessageEvent<string>).data);
    } catch {
      return; // not ours to render; the next change of that task brings a whole record again
    }
    if (typeof task === "object" && task !== null && typeof (task as TaskRecord).id === "string")
      queueTask(task as TaskRecord);
  });
  es.onerror = () => {
    if (source !== es) return;
    if (es.readyState === EventSource.CLOSED) {
      setStatus("down");
      source = undefined;
      request("/auth/session").catch(() => {});
      retryTimer = setTimeout(() => {
        retryTimer = undefined;
        open();
      }, 5_000);
    } else {
      setStatus("connecting");
    }
  };
}

export function startLiveEvents(): void {
  if (!source && retryTimer === undefined) open();
}

export function stopLiveEvents(): void {
  clearTimeout(flushTimer);
  flushTimer = undefined;
  pending.clear();
  clearTimeout(retryTimer);
  retryTimer = undefined;
  source?.close();
  source = undefined;
  wasLive = false;
  setStatus("down");
}

/** Calls `listener` for every live event while the component is mounted. */
export function useLiveEvents(listener: (event: LiveEvent) => void): void {
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => {
    const forward = (event: LiveEvent) => latest.current(event);
    listeners.add(forward);
    return () => {
      listeners.delete(forward);
    };
  }, []);
}

export function useLiveStatus(): LiveStatus {
  return useSyncExternalStore(
    (onChange) => {
      statusListeners.add(onChange);
      return () => statusListeners.delete(onChange);
    },
    () => status,
  );
}
