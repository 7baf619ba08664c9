import { InvalidArgumentError } from "../../core/errors.js";
import { MAX_LOG_LIMIT } from "../task-query.js";

// The Redis tracking store's settings: one documented type, defaults applied in one pure
// function, and the URL form the CLI uses:
//
//   redis://[user:password@]host:port[/db]?prefix=gotaskq&retention=7d&log_lines=10000&scan_budget=5000
//   rediss://…  (TLS)
//
// `prefix`, `retention`, `log_lines` and `scan_budget` are ours and taken out of the URL;
// everything else is handed to ioredis as is.

export interface RedisTrackingOptions {
  /**
   * Names every key: `{<prefix>}:t:…`. The braces are a Redis Cluster hash tag, so each write
   * batch's script touches one slot. Letters, digits and `_.:-`, 1–64 chars; default "gotaskq".
   */
  prefix?: string;
  /**
   * How long a task is kept after its latest event (or after its due time, for a task delayed
   * past that), and log lines and worker heartbeats after they were written. 0 keeps everything
   * until `purge()`. Default 7 days.
   */
  retentionMs?: number;
  /** Log lines kept per task, the oldest dropped first; 1–100,000, default 10,000. */
  maxLogLinesPerTask?: number;
  /**
   * Index entries one `list()` call examines before it answers with the matches found so far
   * and a cursor that continues the scan; default 5,000 (a few ms of Redis time).
   */
  scanBudget?: number;
  /** A command unanswered after this long fails as `unavailable`; default 5,000 ms. */
  commandTimeoutMs?: number;
  /** Longest wait for the TCP connection; default 2,000 ms. */
  connectTimeoutMs?: number;
}

export type ResolvedRedisTrackingOptions = Required<RedisTrackingOptions>;

export const DEFAULT_RETENTION_MS = 7 * 86_400_000;
const PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/;

function integerIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(
      `Redis tracking ${name} must be an integer between ${min} and ${max} (got ${value})`,
    );
  }
  return value;
}

export function resolveRedisTrackingOptions(
  options: RedisTrackingOptions,
): ResolvedRedisTrackingOptions {
  const prefix = options.prefix ?? "gotaskq";
  if (!PREFIX.test(prefix)) {
    throw new InvalidArgumentError(
      `Redis tracking prefix must be 1–64 letters, digits or _.:- (got ${JSON.stringify(prefix)})`,
    );
  }
  return {
    prefix,
    retentionMs: integerIn(
      "retention (ms)",
      options.retentionMs ?? DEFAULT_RETENTION_MS,
      0,
      10 * 365 * 86_400_000,
    ),
    maxLogLinesPerTask: integerIn(
      "log_lines",
      options.maxLogLinesPerTask ?? MAX_LOG_LIMIT,
      1,
      100_000,
    ),
    scanBudget: integerIn("scan_budget", options.scanBudget ?? 5_000, 100, 1_000_000),
    commandTimeoutMs: integerIn(
      "command timeout (ms)",
      options.commandTimeoutMs ?? 5_000,
      100,
      600_000,
    ),
    connectTimeoutMs: integerIn(
      "connect timeout (ms)",
      options.connectTimeoutMs ?? 2_000,
      100,
      600_000,
    ),
  };
}

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** `7d`, `12h`, `30m`, `90s`, `500ms`; `0` or `off` = keep until purged. */
export function parseRetention(text: string): number {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === "0" || trimmed === "off") return 0;
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(trimmed);
  if (!match) {
    throw new InvalidArgumentError(
      `retention must be a duration such as 7d, 12h, 30m, 90s or 500ms, or 0/off to keep everything (got ${JSON.stringify(text)})`,
    );
  }
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}

/** Splits a tracking URL into what ioredis connects to and our options. */
export function parseRedisTrackingUrl(url: string): {
  connectUrl: string;
  options: RedisTrackingOptions;
} {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError(
      `GOTASKQ_TRACKING_URL ${JSON.stringify(url)} is not a URL; use e.g. redis://127.0.0.1:6379?prefix=gotaskq&retention=7d`,
    );
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new InvalidArgumentError(
      `a Redis tracking URL starts with redis:// or rediss:// (got ${JSON.stringify(url)})`,
    );
  }
  const options: RedisTrackingOptions = {};
  const params = parsed.searchParams;
  const prefix = params.get("prefix");
  if (prefix !== null) options.prefix = prefix;
  const retention = params.get("retention");
  if (retention !== null) options.retentionMs = parseRetention(retention);
  const logLines = params.get("log_lines");
  if (logLines !== null) {
    const n = Number(logLines);
    options.maxLogLinesPerTask = integerIn("log_lines", n, 1, 100_000);
  }
  const scanBudget = params.get("scan_budget");
  if (scanBudget !== null) {
    options.scanBudget = integerIn("scan_budget", Number(scanBudget), 100, 1_000_000);
  }
  for (const name of ["prefix", "retention", "log_lines", "scan_budget"]) params.delete(name);
  return { connectUrl: parsed.toString(), options };
}
