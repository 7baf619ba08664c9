import { InvalidArgumentError } from "commander";

/** A commander option parser for integers that names the flag in its error. */
export function intOption(flag: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(n)) {
      throw new InvalidArgumentError(`${flag} takes an integer (got ${JSON.stringify(value)})`);
    }
    return n;
  };
}

const UNIT_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** "1h30m" → 5 400 000: the interval syntax of `schedules add --every`, plus weeks. */
function durationMs(text: string): number | undefined {
  if (!/^(\d+[smhdw])+$/.test(text)) return undefined;
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([smhdw])/g)) {
    ms += Number(n) * (UNIT_MS[unit as string] as number);
  }
  return ms;
}

/**
 * A commander option parser for a point in time: a relative time ago ("30m", "1h", "2d", "1h30m";
 * units s, m, h, d, w), an ISO 8601 time, or epoch milliseconds. Relative times become ISO
 * strings at parse time, so the local service and a remote server (GOTASKQ_API_URL) get the same
 * query. Hand-written rather than `ms`: that package reads a bare "100" as 100 ms and accepts
 * "2 days", which as a CLI time would be a silent surprise.
 */
export function timeOption(flag: string, now: () => number = Date.now): (value: string) => string {
  return (value: string) => {
    const text = value.trim();
    const ago = durationMs(text);
    if (ago !== undefined) return new Date(now() - ago).toISOString();
    const isoLike = /^\d{4}-\d{2}-\d{2}/.test(text) && Number.isFinite(Date.parse(text));
    if (isoLike || /^\d{1,16}$/.test(text)) return text;
    throw new InvalidArgumentError(
      `${flag} takes a time ago such as 30m, 1h or 2d (units s, m, h, d, w), or an ISO 8601 time such as 2026-11-27T12:00:00Z (got ${JSON.stringify(value)})`,
    );
  };
}
