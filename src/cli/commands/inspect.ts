import type { Command } from "commander";
import type { TaskRecord } from "../../tracking/tracking-store.js";
import { intOption, timeOption } from "../options.js";
import { EXIT_TASK_NOT_SUCCESSFUL, printFields, printJson, printTable } from "../output.js";
import type { CommandSession } from "../session.js";
import { waitForFinal } from "./wait.js";

// Read commands (status, list, logs, queues, workers) over the same service layer as the REST and
// gRPC APIs: the service decodes and validates the arguments, so the CLI answers bad input with
// the same messages. All take --json.

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

export function registerInspect(program: Command, session: CommandSession): void {
  program
    .command("status")
    .description("show the tracked record of a task")
    .argument("<id>", "task id")
    .option("--wait", "follow the task until SUCCESS, FAILURE or CANCELED (exit 3 unless SUCCESS)")
    .option(
      "--wait-timeout-ms <ms>",
      "give up waiting after this long (default 120000)",
      intOption("--wait-timeout-ms"),
    )
    .option("--json", "print JSON")
    .action(async (id: string, opts) => {
      const service = await session.service();
      const record = opts.wait
        ? await waitForFinal(service, id, opts.waitTimeoutMs ?? 120_000)
        : await service.get(id);
      if (opts.json) printJson(record);
      else printRecord(record);
      if (opts.wait && record.status !== "SUCCESS") process.exitCode = EXIT_TASK_NOT_SUCCESSFUL;
    });

  program
    .command("list")
    .description("list tracked tasks, newest first")
    .option("--status <list>", "comma-separated statuses, e.g. FAILURE,CANCELED")
    .option("--function-key <key>", "only this function")
    .option("--queue <name>", "only this queue")
    .option("--schedule <id>", "only the tasks this schedule submitted")
    .option("-q, --search <text>", "substring of id, function key or error message")
    .option(
      "--since <time>",
      "created at or after: a time ago (30m, 1h, 2d) or ISO 8601",
      timeOption("--since"),
    )
    .option(
      "--until <time>",
      "created before: a time ago (30m, 1h, 2d) or ISO 8601",
      timeOption("--until"),
    )
    .option("--limit <n>", "page size, 1-500 (default 50)")
    .option("--cursor <cursor>", "next page, as printed by the previous one")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const page = await (await session.service()).list({
        status: opts.status,
        function_key: opts.functionKey,
        queue: opts.queue,
        schedule: opts.schedule,
        q: opts.search,
        since: opts.since,
        until: opts.until,
        limit: opts.limit,
        cursor: opts.cursor,
      });
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
      const lines = await (await session.service()).logs(id);
      if (opts.json) return printJson(lines);
      for (const l of lines) {
        process.stdout.write(
          `${new Date(l.at).toISOString()} [attempt ${l.attempt}] ${l.level}: ${l.message}\n`,
        );
      }
    });

  program
    .command("queues")
    .description("per queue: ready, in flight, delayed, dead-lettered")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const stats = await (await session.service()).queues();
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
      const workers = await (await session.service()).workers();
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
