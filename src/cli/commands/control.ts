import type { Command } from "commander";
import { DEAD_LETTER_REASONS } from "../../broker/broker.js";
import { CliError, printJson, printTable } from "../output.js";
import type { CommandSession } from "../session.js";

// Commands that change state (cancel, requeue, the dead-letter queue), over the same service layer
// as the REST and gRPC APIs.

export function registerControl(program: Command, session: CommandSession): void {
  program
    .command("cancel")
    .description("cancel a queued or running task (through the broker's control channel)")
    .argument("<id>", "task id")
    .option("--json", "print JSON")
    .action(async (id: string, opts) => {
      const answer = await (await session.service()).cancel(id);
      if (opts.json) printJson(answer);
      else process.stdout.write(`cancel requested for ${answer.id}\n`);
    });

  program
    .command("requeue")
    .description("run a FAILURE (dead-lettered) or CANCELED task again, as a fresh run")
    .argument("<id>", "task id")
    .option("--queue <name>", "queue whose DLQ holds it (default: search all)")
    .option("--json", "print JSON")
    .action(async (id: string, opts) => {
      const result = await (await session.service()).requeue(
        id,
        opts.queue ? { queue: opts.queue } : undefined,
      );
      if (opts.json) printJson(result);
      else process.stdout.write(`requeued ${result.id} (run ${result.run})\n`);
    });

  const dlq = program.command("dlq").description("inspect and requeue dead-lettered tasks");
  dlq
    .command("list")
    .description("list a queue's dead-lettered tasks, oldest first")
    .option("--queue <name>", "queue", "default")
    .option("--reason <reason>", `only this reason: ${DEAD_LETTER_REASONS.join(", ")}`)
    .option("--limit <n>", "page size (default 100)")
    .option("--cursor <cursor>", "next page, as printed by the previous one")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const page = await (await session.service()).deadLetters(opts.queue, {
        reason: opts.reason,
        limit: opts.limit,
        cursor: opts.cursor,
      });
      if (opts.json) return printJson(page);
      printTable(
        ["ID", "FUNCTION", "REASON", "DEAD_LETTERED_AT", "DETAIL"],
        page.entries.map((e) => [
          e.id,
          e.function_key ?? "?",
          e.reason,
          e.dead_lettered_at,
          e.detail,
        ]),
      );
      if (page.nextCursor) process.stdout.write(`next page: --cursor ${page.nextCursor}\n`);
    });
  dlq
    .command("requeue")
    .description("requeue dead-lettered tasks: by --id, by --reason, or --all")
    .option("--queue <name>", "queue", "default")
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
      const selector = opts.id
        ? { ids: opts.id }
        : opts.reason
          ? { reason: opts.reason }
          : { all: true };
      const { requeued } = await (await session.service()).requeueDeadLetters(opts.queue, selector);
      if (opts.json) printJson({ requeued });
      else process.stdout.write(`requeued ${requeued.length} task(s)\n`);
    });
}
