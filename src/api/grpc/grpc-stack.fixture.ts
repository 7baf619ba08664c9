import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { openBroker, openTracking } from "../../backends/open.js";
import type { Broker } from "../../broker/broker.js";
import { demoTasks } from "../../demo/demo-tasks.js";
import { silentLogger } from "../../logging/logger.js";
import { Producer } from "../../producer/producer.js";
import { BestEffortWriter } from "../../tracking/best-effort-writer.js";
import type { TrackingStore } from "../../tracking/tracking-store.js";
import { Worker } from "../../worker/worker.js";
import { ApiKeyVerifier, createApiKey, revokeApiKey } from "../auth/api-keys.js";
import type { TokenBucketLimiter } from "../rate-limiter.js";
import { TaskService } from "../task-service.js";
import { type GrpcServerHandle, startGrpcServer } from "./server.js";

// A real GoTaskQ behind the gRPC server, for the tests: SQLite broker and SQLite tracking in a
// temp dir, the TaskService with the demo registry, optionally a worker running the demo
// functions, and two keys: a plaintext full-access key (GOTASKQ_API_KEYS style) and a keys-file
// key with only the `read` scope. `close()` (idempotent) stops everything and removes the dir.

export const FULL_KEY = "test-full-access-key";

export interface StackOptions {
  worker?: boolean;
  maxMessageBytes?: number;
  /** The producer's payload limit (default: its own). */
  maxPayloadBytes?: number;
  rateLimiter?: TokenBucketLimiter;
}

export interface GrpcStack {
  address: string;
  broker: Broker;
  tracking: TrackingStore;
  /** A keys-file key holding only the `read` scope. */
  readKey: string;
  /** Revokes the read key in the keys file. */
  revokeReadKey(): Promise<void>;
  /** Messages waiting in `queue` (ready + delayed + in flight). */
  enqueued(queue?: string): Promise<number>;
  close(): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<GrpcStack> {
  const dir = await mkdtemp(path.join(tmpdir(), "gotaskq-grpc-"));
  const logger = silentLogger();
  const broker = await openBroker(`sqlite://${dir}/broker.db`);
  const tracking = await openTracking(`sqlite://${dir}/tracking.db`);
  const writer = new BestEffortWriter(tracking, { logger, flushIntervalMs: 10 });
  await writer.start();
  const registry = demoTasks();
  const producer = new Producer({
    broker,
    tracking: writer,
    logger,
    registry,
    ...(options.maxPayloadBytes !== undefined ? { maxPayloadBytes: options.maxPayloadBytes } : {}),
  });
  const service = new TaskService({
    producer,
    broker,
    tracking,
    registry,
    logger,
    watch: { pollMs: 20 },
  });
  const keysFile = path.join(dir, "keys.json");
  const { key: readKey } = await createApiKey(keysFile, { name: "reader", scopes: "read" });
  const auth = await ApiKeyVerifier.load({
    keysFile,
    plaintextKeys: [FULL_KEY],
    recheckIntervalMs: 0,
  });
  const worker = options.worker
    ? new Worker({ broker, registry, tracking: writer, logger, leaseMs: 2_000, graceMs: 200 })
    : undefined;
  await worker?.start();
  const server = await startGrpcServer({
    service,
    auth,
    ...(options.rateLimiter ? { rateLimiter: options.rateLimiter } : {}),
    host: "127.0.0.1",
    port: 0,
    maxMessageBytes: options.maxMessageBytes ?? 1_048_576,
    logger,
    closeGraceMs: 1_000,
  });
  let closing: Promise<void> | undefined;
  const close = async () => {
    await closeAll(server, worker, writer);
    await broker.close();
    await tracking.close();
    await rm(dir, { recursive: true, force: true });
  };
  return {
    address: `127.0.0.1:${server.port}`,
    broker,
    tracking,
    readKey,
    revokeReadKey: async () => {
      await revokeApiKey(keysFile, "reader");
    },
    enqueued: async (queue = "default") => {
      const s = await broker.stats(queue);
      return s.ready + s.delayed + s.inFlight;
    },
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}

async function closeAll(
  server: GrpcServerHandle,
  worker: Worker | undefined,
  writer: BestEffortWriter,
): Promise<void> {
  await server.close();
  await worker?.stop();
  await writer.stop();
}
