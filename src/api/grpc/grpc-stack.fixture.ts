import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createServer } from "../../app/server.js";
import type { Broker } from "../../broker/broker.js";
import { DEFAULT_CONFIG } from "../../config/config.js";
import { demoTasks } from "../../demo/demo-tasks.js";
import { silentLogger } from "../../logging/logger.js";
import type { TrackingStore } from "../../tracking/tracking-store.js";
import { createApiKey, revokeApiKey } from "../auth/api-keys.js";
import { TokenBucketLimiter } from "../rate-limiter.js";

// A real GoTaskQ behind the gRPC server for the tests, built by the same composition root as
// `gotaskq server` (src/app/server.ts) with gRPC only: SQLite broker and SQLite tracking in a
// temp dir, the demo registry, optionally a worker running the demo functions, and two keys: a
// plaintext full-access key (GOTASKQ_API_KEYS style) and a keys-file key with only the `read`
// scope. `close()` (idempotent) stops everything and removes the dir.

export const FULL_KEY = "test-full-access-key";

export interface StackOptions {
  worker?: boolean;
  maxMessageBytes?: number;
  /** The producer's payload limit (default: its own). */
  maxPayloadBytes?: number;
  /** Default: unlimited. */
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

/** Far above what any test sends: "no rate limit" unless a test brings its own limiter. */
const UNLIMITED = { ratePerSecond: 1_000_000_000, burst: 1_000_000_000 };

export async function startStack(options: StackOptions = {}): Promise<GrpcStack> {
  const dir = await mkdtemp(path.join(tmpdir(), "gotaskq-grpc-"));
  const keysFile = path.join(dir, "keys.json");
  const { key: readKey } = await createApiKey(keysFile, { name: "reader", scopes: "read" });
  const registry = demoTasks();
  const app = createServer(
    {
      ...DEFAULT_CONFIG,
      brokerUrl: `sqlite://${dir}/broker.db`,
      trackingUrl: `sqlite://${dir}/tracking.db`,
      grpcPort: 0,
      apiKeys: [FULL_KEY],
      apiKeysFile: keysFile,
      operatorsFile: path.join(dir, "operators.json"),
      maxBodyBytes: options.maxMessageBytes ?? DEFAULT_CONFIG.maxBodyBytes,
      maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_CONFIG.maxPayloadBytes,
      leaseMs: 2_000,
    },
    {
      logger: silentLogger(),
      registry,
      sqliteWriteThread: false,
      transports: { rest: false, dashboard: false, grpc: true },
      rateLimiter: options.rateLimiter ?? new TokenBucketLimiter(UNLIMITED),
      ...(options.worker ? { worker: { registry, tuning: { graceMs: 200 } } } : {}),
      tuning: { recheckIntervalMs: 0, watch: { pollMs: 20 }, grpcCloseGraceMs: 1_000 },
    },
  );
  try {
    await app.start();
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const { broker, tracking } = app.backends;
  let closing: Promise<void> | undefined;
  const close = async () => {
    await app.stop();
    await rm(dir, { recursive: true, force: true });
  };
  return {
    address: `127.0.0.1:${app.grpc?.port}`,
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
