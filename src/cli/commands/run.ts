import { randomBytes } from "node:crypto";
import path from "node:path";
import type { Command } from "commander";
import { ApiKeyVerifier } from "../../api/auth/api-keys.js";
import { startGrpcServer } from "../../api/grpc/server.js";
import { OperatorDirectory } from "../../api/operators/operator-directory.js";
import { TokenBucketLimiter } from "../../api/rate-limiter.js";
import { createDashboardAuth } from "../../api/rest/dashboard-auth.js";
import { startRestServer } from "../../api/rest/server.js";
import { TaskService } from "../../api/task-service.js";
import type { GoTaskQConfig } from "../../config/config.js";
import { demoTasks, mergeRegistries } from "../../demo/demo-tasks.js";
import { Producer } from "../../producer/producer.js";
import type { TaskRegistry } from "../../tasks/registry.js";
import { installSignalHandlers } from "../../worker/signals.js";
import { Worker } from "../../worker/worker.js";
import { intOption } from "../options.js";
import { CliSession } from "../session.js";
import { loadTaskModule } from "../task-module.js";

// The long-running commands, each a set of parts started in order and stopped in reverse on
// SIGTERM/SIGINT: `dev` = API (REST + dashboard + gRPC) + worker + demo functions on embedded
// backends (what `npm start` runs); `server` = the API and dashboard alone; `worker` = a user's
// task module on the broker.

interface RunOptions {
  tasks?: string;
  concurrency?: number;
  queues?: string;
  httpPort?: number;
  grpcPort?: number;
}

interface Part {
  name: string;
  stop(): Promise<void>;
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
  };
}

function describeUrl(url: string): string {
  if (!url.startsWith("sqlite://")) return url;
  return `${url}  (${path.resolve(url.replace(/^sqlite:\/\//, "").split("?")[0] ?? "")})`;
}

async function startWorker(session: CliSession, registry: TaskRegistry): Promise<Part> {
  const { config, logger } = session;
  const worker = new Worker({
    broker: await session.broker(),
    registry,
    tracking: await session.writer(),
    logger,
    queues: config.queues,
    concurrency: config.concurrency,
    leaseMs: config.leaseMs,
    shutdownGraceMs: config.shutdownGraceMs,
  });
  await worker.start();
  return { name: "worker", stop: () => worker.stop() };
}

/**
 * REST (with the dashboard) and gRPC over one TaskService; `registry` makes it refuse unknown
 * function keys (422). `devPassword` adds the in-memory `admin` operator of `gotaskq dev`.
 */
async function startApi(
  session: CliSession,
  registry: TaskRegistry | undefined,
  extraKeys: readonly string[],
  devPassword?: string,
): Promise<Part & { restUrl: string; grpcPort: number; operators: number }> {
  const { config, logger } = session;
  const broker = await session.broker();
  const producer = new Producer({
    broker,
    tracking: await session.writer(),
    logger,
    maxPayloadBytes: config.maxPayloadBytes,
    ...(registry ? { registry } : {}),
  });
  const service = new TaskService({
    producer,
    broker,
    tracking: await session.tracking(),
    logger,
    ...(registry ? { registry } : {}),
  });
  const auth = await ApiKeyVerifier.load({
    keysFile: path.resolve(config.apiKeysFile),
    plaintextKeys: [...config.apiKeys, ...extraKeys],
  });
  const rateLimiter = new TokenBucketLimiter({
    ratePerSecond: config.rateLimitPerSecond,
    burst: config.rateLimitBurst,
  });
  const operators = await OperatorDirectory.load({
    file: path.resolve(config.operatorsFile),
    inMemory:
      devPassword !== undefined ? [{ name: "admin", role: "operator", password: devPassword }] : [],
    logger,
  });
  const rest = await startRestServer({
    service,
    auth,
    rateLimiter,
    dashboard: { auth: createDashboardAuth(operators) },
    host: config.host,
    port: config.httpPort,
    bodyLimitBytes: config.maxBodyBytes,
    logger,
  });
  const grpc = await startGrpcServer({
    service,
    auth,
    rateLimiter,
    host: config.host,
    port: config.grpcPort,
    maxMessageBytes: config.maxBodyBytes,
    logger,
  }).catch(async (error: unknown) => {
    await rest.close();
    throw error;
  });
  return {
    name: "api",
    restUrl: rest.url,
    operators: operators.size,
    grpcPort: grpc.port,
    stop: async () => {
      await Promise.all([rest.close(), grpc.close()]);
    },
  };
}

/**
 * On SIGTERM/SIGINT (the shared handler in worker/signals.ts: graceful once, forced on a second
 * signal), stops the parts in reverse order, then the tracking writer and the backends; exit 0.
 */
function stopOnSignals(session: CliSession, parts: Part[]): void {
  const { logger } = session;
  const everything = {
    start: async () => {},
    stop: async () => {
      for (const part of [...parts].reverse()) {
        await part
          .stop()
          .catch((error: unknown) =>
            logger.error({ event: "shutdown_error", part: part.name, err: error }, "stop failed"),
          );
      }
      const writer = await session.writer();
      await writer.stop();
      // The drop counter: what tracking lost while its store was slow or down (execution lost nothing).
      logger.info({ event: "tracking_writer_stats", ...writer.stats() }, "tracking writer stopped");
      await session.close();
    },
  };
  installSignalHandlers(everything, logger);
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
    program
      .command("dev")
      .description("API + worker + demo functions on embedded backends (no server needed)")
      .option("--tasks <module>", "also load your own task module (.js or .ts)")
      .option("--concurrency <n>", "handlers run at once (default 16)", intOption("--concurrency"))
      .option("--queues <list>", "comma-separated queues to consume (default: default)"),
  ).action(async (opts: RunOptions) => {
    const registry = demoTasks();
    if (opts.tasks) mergeRegistries(registry, await loadTaskModule(opts.tasks));
    const session = new CliSession(flagsOf(opts));
    const { config } = session;
    // A dev key is generated per run unless GOTASKQ_API_KEYS names the keys to use.
    const devKey =
      config.apiKeys.length > 0 ? undefined : `gtq_dev_${randomBytes(24).toString("base64url")}`;
    // The dashboard's dev operator: admin, with GOTASKQ_DEV_PASSWORD or a password made now.
    const devPassword = config.devPassword ?? randomBytes(18).toString("base64url");
    const api = await startApi(session, registry, devKey ? [devKey] : [], devPassword);
    const worker = await startWorker(session, registry);
    stopOnSignals(session, [api, worker]);
    const key = devKey ?? config.apiKeys[0] ?? "";
    process.stdout.write(
      [
        `GoTaskQ dev is running (pid ${process.pid})`,
        `Dashboard:  ${api.restUrl}/  (operator admin, password ${config.devPassword !== undefined ? "from GOTASKQ_DEV_PASSWORD" : devPassword})`,
        `  REST:      ${api.restUrl}   (OpenAPI: ${api.restUrl}/openapi.json)`,
        `  gRPC:      ${config.host}:${api.grpcPort}   (gotaskq.v1.TaskService, proto/gotaskq/v1/tasks.proto)`,
        `  API key:   ${key}${devKey ? "   (generated for this run; set GOTASKQ_API_KEYS to choose your own)" : "   (from GOTASKQ_API_KEYS)"}`,
        `  broker:    ${describeUrl(config.brokerUrl)}`,
        `  tracking:  ${describeUrl(config.trackingUrl)}`,
        `  worker:    concurrency ${config.concurrency}, queues ${config.queues.join(",")}`,
        `  functions: ${registry.keys().join(", ")}`,
        "Submit a first task from another terminal in this folder:",
        `  npx gotaskq submit demo.echo '{"hello":"world"}' --wait`,
        `  curl -s -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' \\`,
        `       -d '{"function_key":"demo.echo","payload":{"hello":"world"}}' ${api.restUrl}/v1/tasks`,
        "Stop with Ctrl+C (running tasks finish first).",
        "",
      ].join("\n"),
    );
  });

  portOptions(
    program
      .command("server")
      .description("the REST and gRPC API alone (workers run elsewhere)")
      .option(
        "--tasks <module>",
        "your task module: unknown function keys and invalid payloads are then refused (422)",
      ),
  ).action(async (opts: RunOptions) => {
    const registry = opts.tasks ? await loadTaskModule(opts.tasks) : undefined;
    // The API alone: its event loop serves requests, so SQLite tracking writes go to a thread.
    const session = new CliSession(flagsOf(opts), { sqliteWriteThread: true });
    const api = await startApi(session, registry, []);
    stopOnSignals(session, [api]);
    process.stdout.write(
      `GoTaskQ server (pid ${process.pid}): REST ${api.restUrl}, gRPC ${session.config.host}:${api.grpcPort}, broker ${session.config.brokerUrl}, dashboard ${api.restUrl}/\n`,
    );
    if (api.operators === 0) {
      process.stdout.write(
        `No dashboard operators in ${path.resolve(session.config.operatorsFile)} yet: add one with gotaskq operators add <name> --role operator\n`,
      );
    }
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
      const session = new CliSession(flagsOf(opts));
      const worker = await startWorker(session, registry);
      stopOnSignals(session, [worker]);
      const { config } = session;
      process.stdout.write(
        `GoTaskQ worker (pid ${process.pid}) on ${config.brokerUrl}: queues ${config.queues.join(",")}, concurrency ${config.concurrency}, functions ${registry.keys().join(", ")}\n`,
      );
    });
}
