import { createRequire } from "node:module";
import { isatty } from "node:tty";
import { type DestinationStream, type Logger, pino } from "pino";

// Structured logs (pino, JSON lines on stdout). Every task lifecycle event is one line carrying
// `event`, `task_id` and `function_key`, so a log pipeline can follow a task without the tracking
// store. Secrets never reach a log: keys named like credentials are redacted.
//
// A person at a terminal gets the same lines human-readable (format `auto` on a TTY, or
// `pretty`): pino-pretty formats them in this thread, synchronously, as its docs allow, rather
// than as a pino transport, whose worker thread would cost start-up time and could lose the last
// lines of a crash. A pipe or a file always gets JSON unless `pretty` is asked for.
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

/** JSON lines; human-readable lines; or human-readable when the stream is a terminal. */
export type LogFormat = "json" | "pretty" | "auto";

export interface LoggerOptions {
  level?: string;
  name?: string;
  /**
   * Where lines go (default stdout). One-shot CLI commands log to stderr, so their stdout holds
   * only their answer (`gotaskq submit --json | jq` must not meet a warning line).
   */
  stream?: "stdout" | "stderr";
  /** Default `json`: log shippers and tests read lines as JSON. */
  format?: LogFormat;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const fd = options.stream === "stderr" ? 2 : 1;
  const format = options.format ?? "json";
  const pretty = format === "pretty" || (format === "auto" && isatty(fd));
  return pino(
    {
      name: options.name ?? "gotaskq",
      level: options.level ?? process.env.GOTASKQ_LOG_LEVEL ?? "info",
      redact: { paths: [...REDACTED_PATHS], censor: "[redacted]" },
    },
    pretty ? prettyDestination(fd) : pino.destination({ fd, sync: true }),
  );
}

type PrettyFactory = (options: Record<string, unknown>) => DestinationStream;

/** Fields a pretty line leaves out: said by the message or the task part, or the same all along. */
const PRETTY_IGNORED = "pid,hostname,name,worker_id,event,task_id,function_key,attempt,run";

/**
 * `task started` → `task started demo.echo 0190…  attempt 0 run 0`: the task a line is about,
 * where the eye looks first.
 */
export function prettyMessage(line: Record<string, unknown>, messageKey: string): string {
  const message = String(line[messageKey] ?? "");
  if (typeof line.task_id !== "string") return message;
  const key = typeof line.function_key === "string" ? ` ${line.function_key}` : "";
  const attempt = line.attempt !== undefined ? `  attempt ${line.attempt}` : "";
  const run = line.run !== undefined ? ` run ${line.run}` : "";
  return `${message}${key} ${line.task_id}${attempt}${run}`;
}

/**
 * One line per event: time, level, message (with the task it is about), then the other fields
 * as compact JSON. pino-pretty is loaded only here (CommonJS, so `require` keeps createLogger
 * synchronous): JSON processes never pay for it.
 */
export function prettyDestination(fd: number): DestinationStream {
  const build = createRequire(import.meta.url)("pino-pretty") as PrettyFactory;
  return build({
    destination: fd,
    sync: true,
    colorize: isatty(fd),
    singleLine: true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: PRETTY_IGNORED,
    messageFormat: prettyMessage,
    // A task's `error` is its message string: keep it on the line, not on a line of its own.
    errorLikeObjectKeys: ["err"],
  });
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
