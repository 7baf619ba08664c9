// Display formatting: times in the viewer's locale, durations and sizes in short units.

/**
 * Attempts and runs are numbered from 0 everywhere (API, CLI, logs, ctx): attempt 0 is the first
 * try, attempt n the n-th retry (so it never exceeds max_retries); run 0 is the original run,
 * run n the n-th requeue. The dashboard shows the same numbers, never 1-based ones.
 */
export function formatAttempt(attempt: number, maxRetries?: number | null): string {
  return maxRetries == null ? String(attempt) : `${attempt} (max ${maxRetries})`;
}

export function formatTime(iso: string | null | undefined, withMs = false): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    ...(withMs ? { fractionalSecondDigits: 3 as const } : {}),
  });
}

/** "12 s ago", "5 min ago"; for times up to a day back, else the absolute time. */
export function formatAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const ms = now - new Date(iso).getTime();
  if (Number.isNaN(ms)) return iso;
  if (ms < 0) return `in ${formatDuration(-ms)}`;
  if (ms < 1_000) return "just now";
  if (ms < 86_400_000) return `${formatDuration(ms)} ago`;
  return formatTime(iso);
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  if (ms < 3_600_000)
    return `${Math.floor(ms / 60_000)} min ${Math.floor((ms % 60_000) / 1_000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.floor((ms % 3_600_000) / 60_000)} min`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1_024) return `${bytes} B`;
  if (bytes < 1_048_576) return `${(bytes / 1_024).toFixed(1)} KB`;
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}

export function formatPercent(part: number, whole: number): string {
  if (whole === 0) return "—";
  const value = (part / whole) * 100;
  return `${value < 10 && value > 0 ? value.toFixed(1) : Math.round(value)} %`;
}
