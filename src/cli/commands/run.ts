import path from "node:path";
import type { Command } from "commander";
import type { GoTaskQConfig } from "../../config/config.js";
import { demoTasks, mergeRegistries } from "../../demo/demo-tasks.js";
import type { TaskRegistry } from "../../worker/registry.js";
import { Worker } from "../../worker/worker.js";
import { intOption } from "../options.js";
import { CliSession } from "../session.js";
import { loadTaskModule } from "../task-module.js";

// The long-running commands. `dev` is everything on one machine with embedded backends (what
// `npm start` runs); `worker` runs a user's task module against the configured broker.

interface RunOptions {
  tasks?: string;
  concurrency?: number;
  queues?: string;
}

function flagsOf(opts: RunOptions): Partial<GoTaskQConfig> {
  return {
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
    ...(opts.queues
      ? {
          queues: opts.queues
            .split(",")
            .map((q) => q.trim())
            .filter(Boolean),
        }
      : {}),
  };
}

function describeUrl(url: string): string {
  return url.startsWith("sqlite://")
    ? `${url}  (${path.resolve(url.replace(/^sqlite:\/\//, "").split("?")[0] ?? "")})`
    : url;
}

async function runWorker(
  opts: RunOptions,
  registry: TaskRegistry,
  banner: (s: CliSession) => string,
): Promise<void> {
  const session = new CliSession(flagsOf(opts));
  const { config, logger } = session;
  const writer = await session.writer();
  const worker = new Worker({
    broker: session.broker(),
    registry,
    tracking: writer,
    logger,
    queues: config.queues,
    concurrency: config.concurrency,
    leaseMs: config.leaseMs,
    shutdownGraceMs: config.shutdownGraceMs,
  });
  await worker.start();
  process.stdout.write(banner(session));
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return; // a second Ctrl+C does not start a second shutdown
    stopping = true;
    void (async () => {
      logger.info(
        { event: "shutdown", signal },
        "stopping: no new tasks; waiting for running ones",
      );
      await worker.stop();
      await writer.stop();
      // The drop counter: what tracking lost while its store was slow or down (execution lost nothing).
      logger.info({ event: "tracking_writer_stats", ...writer.stats() }, "tracking writer stopped");
      await session.close();
      process.exit(0);
    })();
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

export function registerRun(program: Command): void {
  program
    .command("dev")
    .description("run a worker with the demo functions on embedded backends (no server needed)")
    .option("--tasks <module>", "also load your own task module (.js or .ts)")
    .option("--concurrency <n>", "handlers run at once (default 16)", intOption("--concurrency"))
    .option("--queues <list>", "comma-separated queues to consume (default: default)")
    .action(async (opts: RunOptions) => {
      const registry = demoTasks();
      if (opts.tasks) mergeRegistries(registry, await loadTaskModule(opts.tasks));
      await runWorker(opts, registry, (s) =>
        [
          `GoTaskQ dev is running (pid ${process.pid})`,
          `  broker:    ${describeUrl(s.config.brokerUrl)}`,
          `  tracking:  ${describeUrl(s.config.trackingUrl)}`,
          `  worker:    concurrency ${s.config.concurrency}, queues ${s.config.queues.join(",")}`,
          `  functions: ${registry.keys().join(", ")}`,
          "Submit a first task from another terminal in this folder:",
          `  npx gotaskq submit demo.echo '{"hello":"world"}' --wait`,
          "  npx gotaskq list",
          "Stop with Ctrl+C (running tasks finish first).",
          "",
        ].join("\n"),
      );
    });

  program
    .command("worker")
    .description("run a worker for your task module against the configured broker")
    .requiredOption(
      "--tasks <module>",
      "your task module (.js or .ts), default-exporting defineTasks({...})",
    )
    .option("--concurrency <n>", "handlers run at once (default 16)", intOption("--concurrency"))
    .option("--queues <list>", "comma-separated queues to consume (default: default)")
    .action(async (opts: RunOptions & { tasks: string }) => {
      const registry = await loadTaskModule(opts.tasks);
      await runWorker(
        opts,
        registry,
        (s) =>
          `GoTaskQ worker (pid ${process.pid}) on ${s.config.brokerUrl}: queues ${s.config.queues.join(",")}, concurrency ${s.config.concurrency}, functions ${registry.keys().join(", ")}\n`,
      );
    });
}
