import type { Command } from "commander";
import type { ScheduleWire } from "../../api/schedule-operations.js";
import { intOption } from "../options.js";
import { CliError, printJson, printTable } from "../output.js";
import type { CommandSession } from "../session.js";

// `gotaskq schedules list|add|pause|resume|trigger|remove`: the schedules in the coordination
// store (or a remote server's, with GOTASKQ_API_URL), through the same ScheduleService the REST
// and gRPC APIs call, so a bad schedule gets the same message everywhere and nothing is stored.

interface AddOptions {
  cron?: string;
  timezone?: string;
  every?: string;
  queue?: string;
  priority?: number;
  timeoutMs?: number;
  maxRetries?: number;
  missed?: string;
  catchUpMax?: number;
  overlap?: string;
  paused?: boolean;
  replace?: boolean;
  json?: boolean;
}

function whenOf(s: ScheduleWire): string {
  return s.every !== undefined ? `every ${s.every}` : `${s.cron} (${s.timezone ?? "UTC"})`;
}

function lastOf(s: ScheduleWire): string {
  if (s.last_outcome === undefined) return "";
  const status = (s as { last_status?: string }).last_status;
  return status !== undefined && s.last_outcome === "submitted" ? status : s.last_outcome;
}

function payloadOf(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(
      `payload must be JSON, e.g. '{"to":"a@b.c"}' (got ${JSON.stringify(text.slice(0, 80))})`,
    );
  }
}

export function registerSchedules(program: Command, session: CommandSession): void {
  const schedules = program
    .command("schedules")
    .description("cron and interval schedules (stored in the coordination store)");

  schedules
    .command("list")
    .description("list schedules with their next run and last outcome")
    .option("--json", "print JSON")
    .action(async (opts: { json?: boolean }) => {
      const list = await (await session.schedules()).list();
      if (opts.json) return printJson(list);
      printTable(
        ["ID", "WHEN", "FUNCTION", "STATE", "NEXT RUN", "LAST"],
        list.map((s) => [
          s.id,
          whenOf(s),
          s.function_key,
          s.paused ? "paused" : "active",
          s.next_runs[0] ?? "",
          lastOf(s),
        ]),
      );
    });

  schedules
    .command("add")
    .description("create a schedule (--cron with --timezone, or --every)")
    .argument("<id>", "schedule id, e.g. nightly-report")
    .argument("<function_key>", "the function each tick submits")
    .argument("[payload]", "JSON payload of each task (default {})")
    .option(
      "--cron <expression>",
      'cron expression, 5 fields or 6 with seconds first, e.g. "0 3 * * *"',
    )
    .option("--timezone <zone>", "IANA time zone of --cron (default UTC)")
    .option("--every <interval>", 'fixed interval of at least 1s, e.g. "30s", "1h30m"')
    .option("--queue <name>", "queue of the tasks")
    .option("--priority <n>", "priority of the tasks, 0-9", intOption("--priority"))
    .option("--timeout-ms <ms>", "timeout of each attempt", intOption("--timeout-ms"))
    .option("--max-retries <n>", "retries after the first attempt", intOption("--max-retries"))
    .option("--missed <policy>", "ticks missed while no scheduler ran: skip (default) or catch_up")
    .option(
      "--catch-up-max <n>",
      "most missed ticks catch_up submits (default 10)",
      intOption("--catch-up-max"),
    )
    .option("--overlap <policy>", "allow (default) or skip_if_running")
    .option("--paused", "create it paused")
    .option("--replace", "replace a schedule with this id instead of refusing")
    .option("--json", "print JSON")
    .action(
      async (id: string, functionKey: string, payload: string | undefined, opts: AddOptions) => {
        const body = {
          id,
          function_key: functionKey,
          ...(payload !== undefined ? { payload: payloadOf(payload) } : {}),
          ...(opts.cron !== undefined ? { cron: opts.cron } : {}),
          ...(opts.timezone !== undefined ? { timezone: opts.timezone } : {}),
          ...(opts.every !== undefined ? { every: opts.every } : {}),
          ...(opts.queue !== undefined ? { queue: opts.queue } : {}),
          ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
          ...(opts.timeoutMs !== undefined ? { timeout_ms: opts.timeoutMs } : {}),
          ...(opts.maxRetries !== undefined ? { max_retries: opts.maxRetries } : {}),
          ...(opts.missed !== undefined ? { missed: opts.missed } : {}),
          ...(opts.catchUpMax !== undefined ? { catch_up_max: opts.catchUpMax } : {}),
          ...(opts.overlap !== undefined ? { overlap: opts.overlap } : {}),
          ...(opts.paused ? { paused: true } : {}),
        };
        const ops = await session.schedules();
        const schedule = opts.replace ? await ops.put(id, body) : await ops.create(body);
        if (opts.json) return printJson(schedule);
        process.stdout.write(
          `schedule ${schedule.id}: ${whenOf(schedule)} → ${schedule.function_key}${schedule.paused ? " (paused)" : `, next run ${schedule.next_runs[0] ?? "none"}`}\n`,
        );
      },
    );

  for (const [verb, done] of [
    ["pause", "paused"],
    ["resume", "resumed"],
  ] as const) {
    schedules
      .command(verb)
      .description(
        verb === "pause"
          ? "stop a schedule's ticks until it is resumed"
          : "let a paused schedule tick again (from now on)",
      )
      .argument("<id>", "schedule id")
      .option("--json", "print JSON")
      .action(async (id: string, opts: { json?: boolean }) => {
        const schedule = await (await session.schedules())[verb](id);
        if (opts.json) return printJson(schedule);
        process.stdout.write(`schedule ${schedule.id} ${done}\n`);
      });
  }

  schedules
    .command("trigger")
    .description("submit a schedule's task now (paused or not)")
    .argument("<id>", "schedule id")
    .option("--json", "print JSON")
    .action(async (id: string, opts: { json?: boolean }) => {
      const task = await (await session.schedules()).trigger(id);
      if (opts.json) return printJson(task);
      process.stdout.write(`${task.id}\n`);
    });

  schedules
    .command("remove")
    .description("remove a schedule (the tasks it submitted stay)")
    .argument("<id>", "schedule id")
    .option("--json", "print JSON")
    .action(async (id: string, opts: { json?: boolean }) => {
      await (await session.schedules()).remove(id);
      if (opts.json) return printJson({ id, removed: true });
      process.stdout.write(`schedule ${id} removed\n`);
    });
}
