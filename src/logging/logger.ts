import { type Logger, pino } from "pino";

// Structured logs (pino, JSON lines on stdout). Every task lifecycle event is one line carrying
// `event`, `task_id` and `function_key`, so a log pipeline can follow a task without the tracking
// store. Secrets never reach a log: keys named like credentials are redacted.
//
// Redaction names exact paths, never wildcards. A wildcard path (`*.authorization`) makes pino
// walk every key of every line, and a busy worker writes two or three lifecycle lines per task:
// with wildcards redaction cost several times the line itself; exact paths add a few property
// checks (bench/results/micro-measurements.md). The paths cover where credentials can appear in
// what this code logs: top-level fields, and the headers of a request, response or error object.

export type { Logger };

/** Field names that hold credentials: API keys, dashboard passwords, session cookies, CSRF tokens. */
const SECRET_FIELDS = [
  "authorization",
  "x-api-key",
  "password",
  "cookie",
  "set-cookie",
  "x-csrf-token",
  "csrf_token",
] as const;

/** Objects whose own fields, or whose `headers`, may carry one of SECRET_FIELDS ("" = the line). */
const CARRIERS = ["", "headers", "req", "req.headers", "res.headers", "err", "err.headers"];

/** `carrier.field` in pino's path syntax: brackets for names that are not identifiers. */
function pathOf(carrier: string, field: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(field)) return `${carrier}[${JSON.stringify(field)}]`;
  return carrier === "" ? field : `${carrier}.${field}`;
}

export const REDACTED_PATHS: readonly string[] = CARRIERS.flatMap((carrier) =>
  SECRET_FIELDS.map((field) => pathOf(carrier, field)),
);

export interface LoggerOptions {
  level?: string;
  name?: string;
  /**
   * Where lines go (default stdout). One-shot CLI commands log to stderr, so their stdout holds
   * only their answer (`gotaskq submit --json | jq` must not meet a warning line).
   */
  stream?: "stdout" | "stderr";
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      name: options.name ?? "gotaskq",
      level: options.level ?? process.env.GOTASKQ_LOG_LEVEL ?? "info",
      redact: { paths: [...REDACTED_PATHS], censor: "[redacted]" },
    },
    pino.destination({ fd: options.stream === "stderr" ? 2 : 1, sync: true }),
  );
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
