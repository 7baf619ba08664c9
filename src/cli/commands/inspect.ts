import type { Command } from "commander";
import { parseTaskId } from "../../core/ids.js";
import { isTaskStatus, type TaskStatus } from "../../core/status.js";
import type { TaskQuery, TaskRecord } from "../../tracking/tracking-store.js";
import { intOption } from "../options.js";
import { CliError, printFields, printJson, printTable } from "../output.js";
import type { CliSession } from "../session.js";

// Read commands over the tracking store (status, list, logs, workers) and the broker (queues).
// All take --json.

export function printRecord(r: TaskRecord): void {
  printFields([
    ["id", r.id],
    ["status", r.status],
    ["function_key", r.functionKey],
    ["queue", r.queue],
    ["priority", r.priority],
    ["run", r.run],
    ["attempt", r.attempt],
    ["max_retries", r.maxRetries],
    ["delivery_count", r.deliveryCount],
    ["worker", r.workerId],
    ["created_at", r.createdAt],
    ["started_at", r.startedAt],
    ["completed_at", r.completedAt],
    ["run_at", r.runAt],
    ["duration_ms", r.durationMs],
    ["payload", r.payload],
    ["result", r.result],
    ["error", r.error ? `${r.error.type}: ${r.error.message}` : null],
    ["dead_letter_reason", r.deadLetterReason],
  ]);
}

function parseStatuses(value: string): TaskStatus[] {
  const statuses = value.split(",").map((s) => s.trim().toUpperCase());
  for (const s of statuses) {
    if (!isTaskStatus(s))
      throw new CliError(
        `--status takes PENDING, STARTED, SUCCESS, FAILURE or CANCELED (got "${s}")`,
      );
  }
  return statuses as TaskStatus[];
}

function parseTime(flag: string, value: string): number {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms))
    throw new CliError(
      `${flag} takes an ISO 8601 time such as 2026-11-27T12:00:00Z (got "${value}")`,
    );
  return ms;
}

export function registerInspect(program: Command, session: () => CliSession): void {
  program
    .command("status")
    .description("show the tracked record of a task")
    .argument("<id>", "task id")
    .option("--json", "print JSON")
    .action(async (id: string, opts) => {
      const taskId = parseTaskId(id);
      const record = await (await session().tracking()).get(taskId);
      if (!record)
        throw new CliError(
          `task ${taskId} is not in the tracking store (GOTASKQ_TRACKING_URL=${session().config.trackingUrl})`,
        );
      if (opts.json) printJson(record);
      else printRecord(record);
    });

  program
    .command("list")
    .description("list tracked tasks, newest first")
    .option("--status <list>", "comma-separated statuses, e.g. FAILURE,CANCELED")
    .option("--function-key <key>", "only this function")
    .option("--queue <name>", "only this queue")
    .option("-q, --search <text>", "substring of id, function key or error message")
    .option("--since <time>", "created at or after (ISO 8601)")
    .option("--until <time>", "created before (ISO 8601)")
    .option("--limit <n>", "page size, 1-500 (default 50)", intOption("--limit"))
    .option("--cursor <cursor>", "next page, as printed by the previous one")
    .option("--json", "print JSON")
    .action(async (opts) => {
      if (opts.limit !== undefined && (opts.limit < 1 || opts.limit > 500))
        throw new CliError(`--limit must be between 1 and 500 (got ${opts.limit})`);
      const query: TaskQuery = {
        ...(opts.status ? { status: parseStatuses(opts.status) } : {}),
        ...(opts.functionKey ? { functionKey: opts.functionKey } : {}),
        ...(opts.queue ? { queue: opts.queue } : {}),
        ...(opts.search ? { text: opts.search } : {}),
        ...(opts.since ? { since: parseTime("--since", opts.since) } : {}),
        ...(opts.until ? { until: parseTime("--until", opts.until) } : {}),
        ...(opts.limit ? { limit: opts.limit } : {}),
        ...(opts.cursor ? { cursor: opts.cursor } : {}),
      };
      const page = await (await session().tracking()).list(query);
      if (opts.json) return printJson(page);
      printTable(
        ["ID", "STATUS", "FUNCTION", "QUEUE", "ATTEMPT", "CREATED", "ERROR"],
        page.tasks.map((t) => [
          t.id,
          t.status,
          t.functionKey ?? "",
          t.queue ?? "",
          String(t.attempt),
          t.createdAt ?? "",
          t.error?.message ?? "",
        ]),
      );
      if (page.nextCursor) process.stdout.write(`next page: --cursor ${page.nextCursor}\n`);
    });

  program
    .command("logs")
    .description("show the log lines a task's handler wrote")
    .argument("<id>", "task id")
    .option("--json", "print JSON")
    .action(async (id: string, opts) => {
      const lines = await (await session().tracking()).logs(parseTaskId(id));
      if (opts.json) return printJson(lines);
      for (const l of lines)
        process.stdout.write(
          `${new Date(l.at).toISOString()} [attempt ${l.attempt}] ${l.level}: ${l.message}\n`,
        );
    });

  program
    .command("queues")
    .description("per queue: ready, in flight, delayed, dead-lettered")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const broker = session().broker();
      const stats = await Promise.all((await broker.queues()).map((q) => broker.stats(q)));
      if (opts.json) return printJson(stats);
      printTable(
        ["QUEUE", "READY", "IN_FLIGHT", "DELAYED", "DEAD_LETTERED"],
        stats.map((s) => [
          s.queue,
          String(s.ready),
          String(s.inFlight),
          String(s.delayed),
          String(s.deadLettered),
        ]),
      );
    });

  program
    .command("workers")
    .description("workers seen in the last minute")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const workers = await (await session().tracking()).workers({
        seenSince: Date.now() - 60_000,
      });
      if (opts.json) return printJson(workers);
      printTable(
        ["WORKER", "PID", "QUEUES", "CONCURRENCY", "RUNNING", "LAST_SEEN", "STATE"],
        workers.map((w) => [
          w.workerId,
          String(w.pid),
          w.queues.join(","),
          String(w.concurrency),
          String(w.running),
          new Date(w.seenAt).toISOString(),
          w.stoppedAt ? "stopped" : "live",
        ]),
      );
    });
}
