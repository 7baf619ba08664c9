#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { registerControl } from "./commands/control.js";
import { registerInspect } from "./commands/inspect.js";
import { registerKeys } from "./commands/keys.js";
import { registerOperators } from "./commands/operators.js";
import { registerRun } from "./commands/run.js";
import { registerSchedules } from "./commands/schedules.js";
import { registerSubmit } from "./commands/submit.js";
import { errorLine } from "./output.js";
import type { CliSession, CommandSession } from "./session.js";
import { packageVersion } from "./version.js";

// The `gotaskq` command. Every failure becomes one line on stderr and a non-zero exit code; long
// running commands (dev, worker) exit 0 after a graceful shutdown on SIGTERM/SIGINT.
//
// Start-up time is a feature (`--help` under 300 ms, `status` under 500 ms; bench/cli-startup.ts
// measures it): this module and the command definitions import commander and nothing heavy.
// Each action imports what it needs when it runs (backends, the API, the composition root), so
// `--help` loads none of it and `status` loads the tracking store alone.

async function main(argv: string[]): Promise<void> {
  let current: Promise<CliSession> | undefined;
  // One-shot commands keep stdout for their answer, so they log at warn unless told otherwise.
  const open = () => {
    current ??= import("./session.js").then(
      ({ CliSession }) => new CliSession({}, { logLevel: process.env.GOTASKQ_LOG_LEVEL ?? "warn" }),
    );
    return current;
  };
  const session: CommandSession = {
    service: async () => (await open()).service(),
    schedules: async () => (await open()).schedules(),
  };
  const program = new Command()
    .name("gotaskq")
    .description("GoTaskQ: a distributed task queue for Node.js")
    .version(packageVersion())
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // commander's usage errors, kept to one line like every other error of ours.
      writeErr: (s) =>
        process.stderr.write(
          s
            .replace(/^error: /, "gotaskq: ")
            .replace(/\n\(Did you mean (.*)\)/, " (did you mean $1)"),
        ),
    });
  registerRun(program);
  registerSubmit(program, session);
  registerInspect(program, session);
  registerControl(program, session);
  registerSchedules(program, session);
  registerKeys(program);
  registerOperators(program);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander already printed its one line (usage errors) or the help/version text.
      process.exitCode = error.exitCode;
    } else {
      process.stderr.write(`gotaskq: ${errorLine(error).split("\n")[0]}\n`);
      process.exitCode = 1;
    }
  } finally {
    const opened = await current?.catch(() => undefined);
    await opened?.close().catch(() => undefined);
  }
}

// `gotaskq list | head`: a reader that leaves before the answer is written is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(process.exitCode ?? 0);
});

await main(process.argv);
