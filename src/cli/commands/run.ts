import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { type GoTaskQConfig, resolveConfig } from "../../config/config.js";
import type { Service } from "../../core/lifecycle.js";
import type { LogFormat, Logger } from "../../logging/logger.js";
import type { ScheduleSpec } from "../../schedules/schedule.js";
import { intOption } from "../options.js";
import { CliError } from "../output.js";

// The long-running commands: each resolves its config, hands it to the composition root
// (src/app/), which starts its parts in order and stops them in reverse on SIGTERM/SIGINT, and
// prints its banner. `dev` = API (REST + dashboard + gRPC) + worker + demo functions on embedded
// backends (what `npm start` runs); `server` = the API and dashboard alone; `worker` = a user's
// task module on the broker. The composition root, the demo functions and the task-module loader
// are imported when one of these commands runs, not when the CLI starts (see src/cli/main.ts).

interface RunOptions {
  tasks?: string;
  concurrency?: number;
  queues?: string;
  httpPort?: number;
  grpcPort?: number;
  /** false with --no-scheduler. */
  scheduler?: boolean;
  logFormat?: LogFormat;
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
    ...(opts.httpPort !== undefined ? { httpPort: opts.httpPort } : {}),
    ...(opts.grpcPort !== undefined ? { grpcPort: opts.grpcPort } : {}),
    // commander sets scheduler=true unless --no-scheduler: only the flag may override the env.
    ...(opts.scheduler === false ? { scheduler: false } : {}),
    ...(opts.logFormat !== undefined ? { logFormat: opts.logFormat } : {}),
  };
}

/** A user's task module and the schedules it declares (src/cli/task-module.ts, loaded now). */
async function loadTaskModule(file: string) {
  const { loadTaskModuleWithSchedules } = await import("../task-module.js");
  return loadTaskModuleWithSchedules(file);
}

function describeUrl(url: string): string {
  if (!url.startsWith("sqlite://")) return url;
  return `${url}  (${path.resolve(url.replace(/^sqlite:\/\//, "").split("?")[0] ?? "")})`;
}

/**
 * Where `dev` leaves the key it generated, for scripts and curl in this folder
 * (`KEY=$(cat .gotaskq/dev-api-key)`): beside the keys file, readable by its owner only. The file
 * holds the latest run's key (a stopped dev's key is refused); with GOTASKQ_API_KEYS there is no
 * generated key and a previous run's file is removed. Returns the file, or undefined if not written.
 */
function leaveDevKey(config: GoTaskQConfig, devKey: string | undefined): string | undefined {
  const file = path.join(path.dirname(config.apiKeysFile), "dev-api-key");
  try {
    if (!devKey) {
      rmSync(file, { force: true });
      return undefined;
    }
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${devKey}\n`, { mode: 0o600 });
    // `mode` applies only when the file is created: an older file keeps its own otherwise.
    chmodSync(file, 0o600);
    return file;
  } catch (error) {
    process.stderr.write(`could not write the dev API key to ${file}: ${String(error)}\n`);
    return undefined;
  }
}

/** Starts `app`; on SIGTERM/SIGINT it stops (graceful once, forced on a second signal), exit 0. */
async function run(app: Service & { logger: Logger }): Promise<void> {
  const { installSignalHandlers } = await import("../../worker/signals.js");
  try {
    await app.start();
  } catch (error) {
    throw await withPortHint(error);
  }
  installSignalHandlers(app, app.logger);
}

/** A port held by another process, said with the flag and variable that choose it. */
async function withPortHint(error: unknown): Promise<unknown> {
  const { PortInUseError } = await import("../../app/port-in-use.js");
  if (!(error instanceof PortInUseError)) return error;
  const [flag, variable] =
    error.transport === "rest"
      ? ["--http-port", "GOTASKQ_HTTP_PORT"]
      : ["--grpc-port", "GOTASKQ_GRPC_PORT"];
  return new CliError(
    `port ${error.port} on ${error.host} is in use (${flag} / ${variable}); stop the other process or choose another port (0 = any free port)`,
  );
}

/** The scheduler part's deps when the config runs it, else nothing (see src/app/scheduler.ts). */
function schedulerOf(config: GoTaskQConfig, declared: ScheduleSpec[]) {
  return config.scheduler ? { scheduler: { declared } } : {};
}

// What dev, server and worker share: the scheduler switch and the log format.
const longRunningOptions = (command: Command): Command =>
  command
    .option(
      "--no-scheduler",
      "do not run the scheduler in this process (also GOTASKQ_SCHEDULER=off)",
    )
    .option(
      "--log-format <format>",
      "json, pretty, or auto: pretty on a terminal, JSON otherwise (default auto; also GOTASKQ_LOG_FORMAT)",
      logFormatOption,
    );

function logFormatOption(value: string): LogFormat {
  if (value === "json" || value === "pretty" || value === "auto") return value;
  throw new InvalidArgumentError(
    `--log-format takes json, pretty or auto (got ${JSON.stringify(value)})`,
  );
}

const portOptions = (command: Command): Command =>
  command
    .option(
      "--http-port <port>",
      "REST port (default 8080, 0 = any free port)",
      intOption("--http-port"),
    )
    .option(
      "--grpc-port <port>",
      "gRPC port (default 50051, 0 = any free port)",
      intOption("--grpc-port"),
    );

export function registerRun(program: Command): void {
  portOptions(
    longRunningOptions(program.command("dev"))
      .description("API + worker + demo functions on embedded backends (no server needed)")
      .option("--tasks <module>", "also load your own task module (.js or .ts)")
      .option("--concurrency <n>", "handlers run at once (default 16)", intOption("--concurrency"))
      .option("--queues <list>", "comma-separated queues to consume (default: default)"),
  ).action(async (opts: RunOptions) => {
    const { demoTasks, mergeRegistries } = await import("../../demo/demo-tasks.js");
    const { createServer } = await import("../../app/server.js");
    const registry = demoTasks();
    const module = opts.tasks ? await loadTaskModule(opts.tasks) : undefined;
    if (module) mergeRegistries(registry, module.registry);
    const config = resolveConfig(process.env, flagsOf(opts));
    // A dev key is generated per run unless GOTASKQ_API_KEYS names the keys to use.
    const devKey =
      config.apiKeys.length > 0 ? undefined : `gtq_dev_${randomBytes(24).toString("base64url")}`;
    // The dashboard's dev operator: admin, with GOTASKQ_DEV_PASSWORD or a password made now.
    const devPassword = config.devPassword ?? randomBytes(18).toString("base64url");
    const app = createServer(
      { ...config, apiKeys: devKey ? [devKey] : config.apiKeys },
      {
        registry,
        operators: [{ name: "admin", role: "operator", password: devPassword }],
        worker: { registry },
        ...schedulerOf(config, module?.schedules ?? []),
      },
    );
    await run(app);
    const restUrl = app.rest?.url ?? "";
    const grpcPort = app.grpc?.port ?? config.grpcPort;
    const key = devKey ?? config.apiKeys[0] ?? "";
    const keyFile = leaveDevKey(config, devKey);
    process.stdout.write(
      [
        `GoTaskQ dev is running (pid ${process.pid})`,
        `Dashboard:  ${restUrl}/  (operator admin, password ${config.devPassword !== undefined ? "from GOTASKQ_DEV_PASSWORD" : devPassword})`,
        `  REST:      ${restUrl}   (OpenAPI: ${restUrl}/openapi.json)`,
        `  gRPC:      ${config.host}:${grpcPort}   (gotaskq.v1.TaskService, proto/gotaskq/v1/tasks.proto)`,
        `  API key:   ${key}${devKey ? `   (generated for this run${keyFile ? `, also in ${keyFile}` : ""}; set GOTASKQ_API_KEYS to choose your own)` : "   (from GOTASKQ_API_KEYS)"}`,
        `  broker:    ${describeUrl(config.brokerUrl)}`,
        `  tracking:  ${describeUrl(config.trackingUrl)}`,
        `  worker:    concurrency ${config.concurrency}, queues ${config.queues.join(",")}`,
        `  functions: ${registry.keys().join(", ")}`,
        "Submit a first task from another terminal in this folder:",
        `  npx gotaskq submit demo.echo '{"hello":"world"}' --wait`,
        `  curl -s -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' \\`,
        `       -d '{"function_key":"demo.echo","payload":{"hello":"world"}}' ${restUrl}/v1/tasks`,
        "Stop with Ctrl+C (running tasks finish first).",
        "",
      ].join("\n"),
    );
  });

  portOptions(
    longRunningOptions(program.command("server"))
      .description("the REST and gRPC API alone (workers run elsewhere)")
      .option(
        "--tasks <module>",
        "your task module: unknown function keys and invalid payloads are then refused (422)",
      ),
  ).action(async (opts: RunOptions) => {
    const { createServer } = await import("../../app/server.js");
    const module = opts.tasks ? await loadTaskModule(opts.tasks) : undefined;
    const registry = module?.registry;
    const config = resolveConfig(process.env, flagsOf(opts));
    const app = createServer(config, {
      ...(registry ? { registry } : {}),
      ...schedulerOf(config, module?.schedules ?? []),
    });
    await run(app);
    const restUrl = app.rest?.url ?? "";
    process.stdout.write(
      `GoTaskQ server (pid ${process.pid}): REST ${restUrl}, gRPC ${config.host}:${app.grpc?.port}, broker ${config.brokerUrl}, dashboard ${restUrl}/\n`,
    );
    if (app.operatorCount === 0) {
      process.stdout.write(
        `No dashboard operators in ${path.resolve(config.operatorsFile)} yet: add one with gotaskq operators add <name> --role operator\n`,
      );
    }
  });

  longRunningOptions(program.command("worker"))
    .description("run a worker for your task module against the configured broker")
    .requiredOption(
      "--tasks <module>",
      "your task module (.js or .ts), default-exporting defineTasks({...})",
    )
    .option("--concurrency <n>", "handlers run at once (default 16)", intOption("--concurrency"))
    .option("--queues <list>", "comma-separated queues to consume (default: default)")
    .action(async (opts: RunOptions & { tasks: string }) => {
      const { createWorkerApp } = await import("../../app/worker.js");
      const { registry, schedules } = await loadTaskModule(opts.tasks);
      const config = resolveConfig(process.env, flagsOf(opts));
      await run(createWorkerApp(config, { registry, ...schedulerOf(config, schedules) }));
      process.stdout.write(
        `GoTaskQ worker (pid ${process.pid}) on ${config.brokerUrl}: queues ${config.queues.join(",")}, concurrency ${config.concurrency}, functions ${registry.keys().join(", ")}\n`,
      );
    });
}
