import type { Command } from "commander";
import type { TaskOperations } from "../../api/task-operations.js";
import { parseJsonSafe } from "../../core/json-guard.js";
import { intOption } from "../options.js";
import { CliError, EXIT_TASK_NOT_SUCCESSFUL, printJson } from "../output.js";
import type { CommandSession } from "../session.js";
import { printRecord } from "./inspect.js";
import { waitForFinal } from "./wait.js";

// `gotaskq submit <function_key> [json]`: validate, publish (exit 0 only once the broker has the
// task durably), then optionally follow the tracked status to a final one.

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function parsePayload(arg: string | undefined): Promise<unknown> {
  if (arg === undefined) return {};
  // "-" reads the payload from stdin: large payloads do not fit in a command line (128 KiB).
  const text = arg === "-" ? await readStdin() : arg;
  try {
    return parseJsonSafe(text);
  } catch (error) {
    throw new CliError(
      `payload is not valid JSON (${(error as Error).message}); pass a JSON document such as '{"a":1}'`,
    );
  }
}

/**
 * Refuses a function key that no live worker registers. The CLI has no registry, but the service
 * knows the keys live workers announce in their heartbeats; with no live worker it cannot tell,
 * so it accepts.
 */
async function checkFunctionKey(service: TaskOperations, key: string): Promise<void> {
  const known = (await service.functions().catch(() => [])).map((f) => f.key);
  if (known.length === 0 || known.includes(key)) return;
  throw new CliError(
    `unknown function key "${key}": no live worker registers it (known: ${known.join(", ")}); pass --allow-unknown to enqueue it anyway`,
  );
}

/** `--unique` alone: the whole payload; `--unique <template>`: that key. */
function uniqueOption(
  unique: string | boolean | undefined,
  until: string | undefined,
): { unique?: Record<string, string> } {
  if (unique === undefined && until === undefined) return {};
  return {
    unique: {
      ...(typeof unique === "string" ? { key: unique } : {}),
      ...(until !== undefined ? { until } : {}),
    },
  };
}

export function registerSubmit(program: Command, session: CommandSession): void {
  program
    .command("submit")
    .description("submit a task; prints its id (exit 0 once the broker holds it durably)")
    .argument("<function_key>", "registered function to run, e.g. demo.echo")
    .argument("[json]", "payload as JSON (default {}); - reads it from stdin")
    .option("--queue <name>", "queue to publish to (default: default)")
    .option("--priority <0-9>", "higher runs first (default 5)", intOption("--priority"))
    .option("--timeout-ms <ms>", "attempt timeout", intOption("--timeout-ms"))
    .option("--max-retries <n>", "retries after the first attempt", intOption("--max-retries"))
    .option("--delay-ms <ms>", "run no earlier than this many ms from now", intOption("--delay-ms"))
    .option(
      "--idempotency-key <key>",
      "submit at most once per key (1-256 characters): a repeat answers the first task's id, marked duplicate",
    )
    .option(
      "--idempotency-ttl-ms <ms>",
      "how long the key is remembered (default 86400000, 24 h)",
      intOption("--idempotency-ttl-ms"),
    )
    .option(
      "--unique [template]",
      'at most one queued task per key, e.g. "{{payload.user_id}}" (default: the whole payload)',
    )
    .option(
      "--unique-until <when>",
      "hold the unique key until the task has started (default) or finished",
    )
    .option("--wait", "follow the task until SUCCESS, FAILURE or CANCELED (exit 3 unless SUCCESS)")
    .option(
      "--wait-timeout-ms <ms>",
      "give up waiting after this long (default 120000)",
      intOption("--wait-timeout-ms"),
    )
    .option("--allow-unknown", "enqueue even if no live worker registers the function key")
    .option("--json", "print JSON")
    .action(async (functionKey: string, json: string | undefined, opts) => {
      const payload = await parsePayload(json);
      // Local backends or a remote server (GOTASKQ_API_URL): the same operations either way.
      const service = await session.service();
      if (!opts.allowUnknown) await checkFunctionKey(service, functionKey);
      const accepted = await service.submit({
        function_key: functionKey,
        payload,
        ...(opts.queue !== undefined ? { queue: opts.queue } : {}),
        ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
        ...(opts.timeoutMs !== undefined ? { timeout_ms: opts.timeoutMs } : {}),
        ...(opts.maxRetries !== undefined ? { max_retries: opts.maxRetries } : {}),
        ...(opts.delayMs !== undefined ? { delay_ms: opts.delayMs } : {}),
        ...(opts.idempotencyKey !== undefined ? { idempotency_key: opts.idempotencyKey } : {}),
        ...(opts.idempotencyTtlMs !== undefined
          ? { idempotency_ttl_ms: opts.idempotencyTtlMs }
          : {}),
        ...uniqueOption(opts.unique, opts.uniqueUntil),
      });
      if (accepted.duplicate) {
        // stderr: stdout stays the id alone, so scripts read it the same either way.
        process.stderr.write(
          `duplicate: task ${accepted.id} was already submitted with this idempotency or unique key; nothing new was enqueued\n`,
        );
      }
      if (!opts.wait) {
        if (opts.json) printJson(accepted);
        else process.stdout.write(`${accepted.id}\n`);
        return;
      }
      const record = await waitForFinal(service, accepted.id, opts.waitTimeoutMs ?? 120_000);
      if (opts.json) printJson(record);
      else printRecord(record);
      if (record.status !== "SUCCESS") process.exitCode = EXIT_TASK_NOT_SUCCESSFUL;
    });
}
