import type { Command } from "commander";
import {
  DEAD_LETTER_REASONS,
  type DeadLetterEntry,
  type DeadLetterReason,
  type DeadLetterSelector,
} from "../../broker/broker.js";
import { decodeEnvelope } from "../../core/envelope.js";
import { parseTaskId } from "../../core/ids.js";
import { QUEUE_PATTERN } from "../../core/submission.js";
import { intOption } from "../options.js";
import { CliError, printJson, printTable } from "../output.js";
import type { CliSession } from "../session.js";

// Commands that change state: cancel, requeue, and the dead-letter queue.

function queueName(value: string | undefined): string {
  const q = value ?? "default";
  if (!QUEUE_PATTERN.test(q))
    throw new CliError(`--queue must match ^[A-Za-z0-9_.:-]{1,64}$ (got "${q}")`);
  return q;
}

function reasonOf(value: string): DeadLetterReason {
  if (!(DEAD_LETTER_REASONS as readonly string[]).includes(value)) {
    throw new CliError(`--reason takes one of ${DEAD_LETTER_REASONS.join(", ")} (got "${value}")`);
  }
  return value as DeadLetterReason;
}

/** A DLQ entry as people and scripts read it: the envelope's essentials when it decodes. */
function describeEntry(e: DeadLetterEntry) {
  let task: { function_key?: string; attempt?: number; run?: number; payload?: unknown } = {};
  try {
    const env = decodeEnvelope(e.body);
    task = {
      function_key: env.function_key,
      attempt: env.attempt,
      run: env.run,
      payload: env.payload,
    };
  } catch {
    // decode_error entries keep their raw body; it is shown as text below.
  }
  return {
    id: e.id,
    queue: e.queue,
    reason: e.reason,
    detail: e.detail,
    dead_lettered_at: new Date(e.deadLetteredAt).toISOString(),
    ...task,
    ...(task.function_key === undefined
      ? { body: new TextDecoder().decode(e.body).slice(0, 2_000) }
      : {}),
  };
}

export function registerControl(program: Command, session: () => CliSession): void {
  program
    .command("cancel")
    .description("cancel a queued or running task (through the broker's control channel)")
    .argument("<id>", "task id")
    .option("--json", "print JSON")
    .action(async (id: string, opts) => {
      const taskId = parseTaskId(id);
      const s = session();
      // With the tracking store, a still-PENDING record shows CANCELED at once (a delayed task
      // would otherwise look PENDING until its time comes and a worker acks it).
      await (await s.producer()).cancel(taskId, { fromTracking: await s.tracking() });
      if (opts.json) printJson({ id: taskId, cancel: "requested" });
      else process.stdout.write(`cancel requested for ${taskId}\n`);
    });

  program
    .command("requeue")
    .description("run a FAILURE (dead-lettered) or CANCELED task again, as a fresh run")
    .argument("<id>", "task id")
    .option("--queue <name>", "queue whose DLQ holds it (default: search all)")
    .option("--json", "print JSON")
    .action(async (id: string, opts) => {
      const s = session();
      const taskId = parseTaskId(id);
      const result = await (await s.producer()).requeue(taskId, {
        ...(opts.queue ? { queue: queueName(opts.queue) } : {}),
        fromTracking: await s.tracking(),
      });
      if (opts.json) printJson(result);
      else process.stdout.write(`requeued ${taskId}\n`);
    });

  const dlq = program.command("dlq").description("inspect and requeue dead-lettered tasks");
  dlq
    .command("list")
    .description("list a queue's dead-lettered tasks, oldest first")
    .option("--queue <name>", "queue (default: default)")
    .option("--reason <reason>", `only this reason: ${DEAD_LETTER_REASONS.join(", ")}`)
    .option("--limit <n>", "page size, 1-1000 (default 100)", intOption("--limit"))
    .option("--cursor <cursor>", "next page, as printed by the previous one")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const limit = opts.limit ?? 100;
      if (limit < 1 || limit > 1000)
        throw new CliError(`--limit must be between 1 and 1000 (got ${limit})`);
      const page = await session()
        .broker()
        .deadLetters(queueName(opts.queue))
        .list({
          limit,
          ...(opts.cursor ? { cursor: opts.cursor } : {}),
          ...(opts.reason ? { reason: reasonOf(opts.reason) } : {}),
        });
      const entries = page.entries.map(describeEntry);
      if (opts.json)
        return printJson({ entries, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) });
      printTable(
        ["ID", "FUNCTION", "REASON", "DEAD_LETTERED_AT", "DETAIL"],
        entries.map((e) => [e.id, e.function_key ?? "?", e.reason, e.dead_lettered_at, e.detail]),
      );
      if (page.nextCursor) process.stdout.write(`next page: --cursor ${page.nextCursor}\n`);
    });
  dlq
    .command("requeue")
    .description("requeue dead-lettered tasks: by --id, by --reason, or --all")
    .option("--queue <name>", "queue (default: default)")
    .option("--id <ids...>", "task ids")
    .option("--reason <reason>", "every entry with this reason")
    .option("--all", "every entry of the queue")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const chosen = [opts.id !== undefined, opts.reason !== undefined, opts.all === true].filter(
        Boolean,
      ).length;
      if (chosen !== 1)
        throw new CliError(
          "say which entries to requeue: exactly one of --id <ids...>, --reason <reason> or --all",
        );
      const selector: DeadLetterSelector = opts.id
        ? { ids: (opts.id as string[]).map((i) => parseTaskId(i)) }
        : opts.reason
          ? { reason: reasonOf(opts.reason) }
          : { all: true };
      const ids = await (await session().producer()).requeueDeadLetters(
        queueName(opts.queue),
        selector,
      );
      if (opts.json) printJson({ requeued: ids });
      else process.stdout.write(`requeued ${ids.length} task(s)\n`);
    });
}
