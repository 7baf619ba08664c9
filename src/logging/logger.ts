import { type Logger, pino } from "pino";

// Structured logs (pino, JSON lines on stdout). Every task lifecycle event is one line carrying
// `event`, `task_id` and `function_key`, so a log pipeline can follow a task without the tracking
// store. Secrets never reach a log: keys named like credentials are redacted.

export type { Logger };

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: options.name ?? "gotaskq",
    level: options.level ?? process.env.GOTASKQ_LOG_LEVEL ?? "info",
    redact: {
      paths: [
        "authorization",
        "*.authorization",
        "x-api-key",
        "*.x-api-key",
        "*.headers.authorization",
        '*.headers["x-api-key"]',
        "password",
        "*.password",
        // Dashboard session cookies and CSRF tokens (issue 7).
        "cookie",
        "*.cookie",
        '["set-cookie"]',
        '*["set-cookie"]',
        "*.headers.cookie",
        '*.headers["set-cookie"]',
        '*.headers["x-csrf-token"]',
        "csrf_token",
        "*.csrf_token",
      ],
      censor: "[redacted]",
    },
  });
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
