import path from "node:path";
import { performance } from "node:perf_hooks";
import { ApiKeyVerifier } from "../src/api/auth/api-keys.js";
import { TokenBucketLimiter } from "../src/api/rate-limiter.js";
import { TaskService } from "../src/api/task-service.js";
import { openBroker, openTracking } from "../src/backends/open.js";
import { openCoordinationStore } from "../src/coordination/open.js";
import { type Logger, silentLogger } from "../src/logging/logger.js";
import { Producer } from "../src/producer/producer.js";
import { TaskRegistry } from "../src/tasks/registry.js";
import { BestEffortWriter } from "../src/tracking/best-effort-writer.js";
import type { ChildSpec } from "./protocol.js";
import type { PreparedRole } from "./role.js";

// GoTaskQ's API under test, wired as `gotaskq dev` wires it (src/cli/commands/run.ts): TaskService
// over a Producer on the embedded SQLite broker, SQLite tracking behind the BestEffortWriter, a
// registry (so unknown function keys would be refused), API keys from a keys file plus one
// plaintext key, and the per-key rate limiter, here set far above any load so it costs its
// bookkeeping but never refuses. No worker: tasks only enqueue. One transport per child.
//
// The count of the measured window is read from the broker (tasks it holds at `stop` minus at
// `go`), and "tasks in broker" lets the orchestrator check that every 202 / OK is really there.

type ApiTarget = Extract<ChildSpec["target"], { system: "api" }>;

const UNLIMITED = 1_000_000_000;

/** TaskService and everything under it, as `gotaskq dev` opens it, in a fresh folder. */
async function openService(target: ApiTarget) {
  const logger = silentLogger();
  const broker = await openBroker(`sqlite://${path.join(target.dir, "broker.db")}`);
  // As `gotaskq server` opens it: SQLite tracking writes on a thread of their own.
  const store = await openTracking(`sqlite://${path.join(target.dir, "tracking.db")}`, {
    sqliteWriteThread: true,
  });
  const writer = new BestEffortWriter(store, { logger });
  await writer.start();
  const registry = new TaskRegistry().register("bench.noop", async () => {});
  const coordination = target.coordinationUrl
    ? await openCoordinationStore(target.coordinationUrl)
    : undefined;
  const producer = new Producer({
    broker,
    tracking: writer,
    logger,
    registry,
    ...(coordination ? { coordination } : {}),
  });
  const service = new TaskService({ producer, broker, tracking: store, registry, logger });
  return { logger, broker, store, writer, service, coordination };
}

/** The transport under test; imported lazily so a child carries only its own in its RSS. */
async function startTransport(
  target: ApiTarget,
  service: TaskService,
  logger: Logger,
): Promise<{ endpoint: string; close(): Promise<void> }> {
  const auth = await ApiKeyVerifier.load({
    keysFile: path.join(target.dir, "api-keys.json"),
    plaintextKeys: [target.apiKey],
  });
  const rateLimiter = new TokenBucketLimiter({ ratePerSecond: UNLIMITED, burst: UNLIMITED });
  const common = { service, auth, rateLimiter, host: "127.0.0.1", port: 0, logger };
  if (target.server === "gotaskq-rest") {
    const { startRestServer } = await import("../src/api/rest/server.js");
    const rest = await startRestServer({ ...common, bodyLimitBytes: target.bodyLimitBytes });
    return { endpoint: rest.url, close: () => rest.close() };
  }
  const { startGrpcServer } = await import("../src/api/grpc/server.js");
  const grpc = await startGrpcServer({ ...common, maxMessageBytes: target.bodyLimitBytes });
  return { endpoint: `127.0.0.1:${grpc.port}`, close: () => grpc.close() };
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

export async function prepareGoTaskQServer(spec: ChildSpec): Promise<PreparedRole> {
  if (spec.target.system !== "api") throw new Error("api-gotaskq-server: wrong target");
  const { logger, broker, store, writer, service, coordination } = await openService(spec.target);
  const transport = await startTransport(spec.target, service, logger);
  let serverClosed: Promise<void> | undefined;
  const closeServer = () => {
    serverClosed ??= transport.close();
    return serverClosed;
  };
  const held = async () => {
    const s = await broker.stats(spec.queue);
    return s.ready + s.inFlight + s.delayed;
  };
  return {
    endpoint: transport.endpoint,
    async run(stop) {
      const atGo = await held();
      await untilAborted(stop);
      const finishedAt = performance.now();
      const total = await held();
      // Not measured: stop accepting, then flush tracking to report what it wrote or dropped.
      await closeServer();
      const flushStarted = performance.now();
      await writer.stop();
      const stats = writer.stats();
      return {
        count: total - atGo,
        finishedAt,
        details: {
          "tasks in broker": total,
          "tracking items written": stats.written,
          "tracking items dropped": stats.dropped,
          "flush left at stop (ms)": Math.round(performance.now() - flushStarted),
        },
      };
    },
    async close() {
      await closeServer();
      await writer.stop();
      await broker.close();
      await store.close();
      await coordination?.close();
    },
  };
}
