import path from "node:path";
import { performance } from "node:perf_hooks";
import { ApiKeyVerifier } from "../src/api/auth/api-keys.js";
import { TokenBucketLimiter } from "../src/api/rate-limiter.js";
import { TaskService } from "../src/api/task-service.js";
import { openBroker, openTracking } from "../src/backends/open.js";
import { silentLogger } from "../src/logging/logger.js";
import { Producer } from "../src/producer/producer.js";
import { BestEffortWriter } from "../src/tracking/best-effort-writer.js";
import { TaskRegistry } from "../src/worker/registry.js";
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

export async function prepareGoTaskQServer(spec: ChildSpec): Promise<PreparedRole> {
  if (spec.target.system !== "api") throw new Error("api-gotaskq-server: wrong target");
  const target: ApiTarget = spec.target;
  const logger = silentLogger();
  const broker = openBroker(`sqlite://${path.join(target.dir, "broker.db")}`);
  const store = await openTracking(`sqlite://${path.join(target.dir, "tracking.db")}`);
  const writer = new BestEffortWriter(store, { logger });
  await writer.start();
  const registry = new TaskRegistry().register("bench.noop", async () => {});
  const producer = new Producer({ broker, tracking: writer, logger, registry });
  const service = new TaskService({ producer, broker, tracking: store, registry, logger });
  const auth = await ApiKeyVerifier.load({
    keysFile: path.join(target.dir, "api-keys.json"),
    plaintextKeys: [target.apiKey],
  });
  const rateLimiter = new TokenBucketLimiter({ ratePerSecond: UNLIMITED, burst: UNLIMITED });
  const common = { service, auth, rateLimiter, host: "127.0.0.1", port: 0, logger };
  let endpoint: string;
  let server: { close(): Promise<void> };
  // Imported here so a child carries only its own transport's code in its RSS.
  if (target.server === "gotaskq-rest") {
    const { startRestServer } = await import("../src/api/rest/server.js");
    const rest = await startRestServer({ ...common, bodyLimitBytes: target.bodyLimitBytes });
    endpoint = rest.url;
    server = rest;
  } else {
    const { startGrpcServer } = await import("../src/api/grpc/server.js");
    const grpc = await startGrpcServer({ ...common, maxMessageBytes: target.bodyLimitBytes });
    endpoint = `127.0.0.1:${grpc.port}`;
    server = grpc;
  }
  let serverClosed: Promise<void> | undefined;
  const closeServer = () => {
    serverClosed ??= server.close();
    return serverClosed;
  };
  const held = async () => {
    const s = await broker.stats(spec.queue);
    return s.ready + s.inFlight + s.delayed;
  };
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await closeServer();
    await writer.stop();
    await broker.close();
    await store.close();
  };
  return {
    endpoint,
    async run(stop) {
      const atGo = await held();
      await new Promise<void>((resolve) => {
        if (stop.aborted) resolve();
        else stop.addEventListener("abort", () => resolve(), { once: true });
      });
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
    close,
  };
}
