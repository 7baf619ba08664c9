import { TASK_STATUSES, type TaskRecord, type TaskStatus } from "./wire";

// The task list's filter: kept in the URL (so a filtered view can be bookmarked or shared),
// turned into GET /v1/tasks parameters, and applied to live events the same way the server
// applies it to the list, so a row appears or leaves exactly when a reload would show it.

export const RANGES = {
  "": { label: "Any time", ms: 0 },
  "15m": { label: "Last 15 minutes", ms: 15 * 60_000 },
  "1h": { label: "Last hour", ms: 3_600_000 },
  "24h": { label: "Last 24 hours", ms: 86_400_000 },
  "7d": { label: "Last 7 days", ms: 7 * 86_400_000 },
  custom: { label: "Custom range", ms: 0 },
} as const;
export type RangeKey = keyof typeof RANGES;

export interface TaskFilter {
  statuses: TaskStatus[];
  functionKey: string;
  queue: string;
  q: string;
  range: RangeKey;
  /** datetime-local values (the viewer's time zone), for the custom range. */
  from: string;
  to: string;
}

export function filterFromParams(params: URLSearchParams): TaskFilter {
  const range = params.get("range") ?? "";
  return {
    statuses: (params.get("status") ?? "")
      .split(",")
      .filter((s): s is TaskStatus => (TASK_STATUSES as readonly string[]).includes(s)),
    functionKey: params.get("function") ?? "",
    queue: params.get("queue") ?? "",
    q: params.get("q") ?? "",
    range: range in RANGES ? (range as RangeKey) : "",
    from: params.get("from") ?? "",
    to: params.get("to") ?? "",
  };
}

export function filterToSearch(filter: TaskFilter): string {
  const params = new URLSearchParams();
  if (filter.statuses.length > 0) params.set("status", filter.statuses.join(","));
  if (filter.functionKey) params.set("function", filter.functionKey);
  if (filter.queue) params.set("queue", filter.queue);
  if (filter.q) params.set("q", filter.q);
  if (filter.range) params.set("range", filter.range);
  if (filter.range === "custom" && filter.from) params.set("from", filter.from);
  if (filter.range === "custom" && filter.to) params.set("to", filter.to);
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** The created-at window in epoch ms (either end open). */
export function timeWindow(filter: TaskFilter, now: number): { since?: number; until?: number } {
  if (filter.range === "custom") {
    const since = filter.from ? new Date(filter.from).getTime() : Number.NaN;
    const until = filter.to ? new Date(filter.to).getTime() : Number.NaN;
    return {
      ...(Number.isNaN(since) ? {} : { since }),
      ...(Number.isNaN(until) ? {} : { until }),
    };
  }
  const ms = RANGES[filter.range].ms;
  return ms > 0 ? { since: now - ms } : {};
}

export function listParams(
  filter: TaskFilter,
  window: { since?: number; until?: number },
): Record<string, string | undefined> {
  return {
    status: filter.statuses.join(",") || undefined,
    function_key: filter.functionKey.trim() || undefined,
    queue: filter.queue.trim() || undefined,
    q: filter.q.trim() || undefined,
    since: window.since === undefined ? undefined : new Date(window.since).toISOString(),
    until: window.until === undefined ? undefined : new Date(window.until).toISOString(),
  };
}

export function matchesFilter(
  task: TaskRecord,
  filter: TaskFilter,
  window: { since?: number; until?: number },
): boolean {
  if (filter.statuses.length > 0 && !filter.statuses.includes(task.status)) return false;
  if (filter.functionKey.trim() && task.function_key !== filter.functionKey.trim()) return false;
  if (filter.queue.trim() && task.queue !== filter.queue.trim()) return false;
  const created = task.created_at ? new Date(task.created_at).getTime() : Number.NaN;
  if (window.since !== undefined && !(created >= window.since)) return false;
  if (window.until !== undefined && !(created < window.until)) return false;
  const q = filter.q.trim().toLowerCase();
  if (q) {
    const haystack = [task.id, task.function_key ?? "", task.error?.message ?? ""];
    if (!haystack.some((text) => text.toLowerCase().includes(q))) return false;
  }
  return true;
}
