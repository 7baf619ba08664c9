import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Backends } from "../app/backends.js";
import { createServer } from "../app/server.js";
import type { Broker, QueueStats } from "../broker/broker.js";
import { openSqliteBroker } from "../broker/sqlite/sqlite-broker.js";
import { DEFAULT_CONFIG, type GoTaskQConfig } from "../config/config.js";
import { ServiceSequence } from "../core/lifecycle.js";
import { demoTasks } from "../demo/demo-tasks.js";
import { type Logger, silentLogger } from "../logging/logger.js";
import type { TrackingStore } from "../tracking/tracking-store.js";
import { createApiKey } from "./auth/keys-file.js";
import type { Scope } from "./auth/scopes.js";
import { TokenBucketLimiter } from "./rate-limiter.js";
import type { RestServer } from "./rest/server.js";
import type { TaskService } from "./task-service.js";

// The real API stack for tests, built by the same composition root as `gotaskq server`
// (src/app/server.ts) with REST only: SQLite broker and SQLite tracking store in a temp
// directory, and, when asked, a worker running the demo functions. `cleanup()` stops and
// removes it all.

export const ADMIN_KEY = "gtq_test_admin_key_0123456789abcdefghijklmnop";

export interface StackOptions {
  /** Give the service the demo registry (unknown keys → 422). Default true. */
  registry?: boolean;
  /** Run a worker with the demo functions. Default false. */
  worker?: boolean;
  /** Default: unlimited. */
  rateLimit?: { ratePerSecond: number; burst: number };
  bodyLimitBytes?: number;
  /** The producer's payload limit (default: its own). */
  maxPayloadBytes?: number;
  /** Default: silent. */
  logger?: Logger;
}

export interface ApiStack {
  dir: string;
  keysFile: string;
  broker: Broker;
  tracking: TrackingStore;
  service: TaskService;
  rest: RestServer;
  /** fetch against the REST server; `key` null = no key; default the admin key. */
  call(
    urlPath: string,
    init?: {
      method?: string;
      body?: unknown;
      raw?: string;
      type?: string;
      key?: string | null;
      headers?: Record<string, string>;
    },
  ): Promise<{ status: number; headers: Headers; json: Record<string, unknown>; text: string }>;
  /** Creates a key in the keys file the server reads. */
  key(name: string, scopes: Scope[]): Promise<string>;
  /** Broker stats of the default queue. */
  stats(queue?: string): Promise<QueueStats>;
  cleanup(): Promise<void>;
}

/** Far above what any test sends: "no rate limit" unless a test asks for one. */
const UNLIMITED = { ratePerSecond: 1_000_000_000, burst: 1_000_000_000 };

export async function startApiStack(options: StackOptions = {}): Promise<ApiStack> {
  const dir = mkdtempSync(path.join(tmpdir(), "gotaskq-api-"));
  const keysFile = path.join(dir, "api-keys.json");
  const logger = options.logger ?? silentLogger();
  const config: GoTaskQConfig = {
    ...DEFAULT_CONFIG,
    brokerUrl: `sqlite://${path.join(dir, "broker.db")}`,
    trackingUrl: `sqlite://${path.join(dir, "tracking.db")}`,
    httpPort: 0,
    apiKeys: [ADMIN_KEY],
    apiKeysFile: keysFile,
    operatorsFile: path.join(dir, "operators.json"),
    maxBodyBytes: options.bodyLimitBytes ?? DEFAULT_CONFIG.maxBodyBytes,
    maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_CONFIG.maxPayloadBytes,
    leaseMs: 2_000,
    shutdownGraceMs: 500,
  };
  // Opened here rather than by the server, to poll and flush faster than production does.
  const backends = new Backends(config, {
    logger,
    broker: openSqliteBroker({ path: path.join(dir, "broker.db"), pollIntervalMs: 10 }),
    flushIntervalMs: 10,
  });
  const app = createServer(config, {
    logger,
    backends,
    ...(options.registry === false ? {} : { registry: demoTasks() }),
    transports: { rest: true, dashboard: false, grpc: false },
    rateLimiter: new TokenBucketLimiter(options.rateLimit ?? UNLIMITED),
    ...(options.worker
      ? { worker: { registry: demoTasks(), tuning: { heartbeatIntervalMs: 50, graceMs: 100 } } }
      : {}),
    tuning: { recheckIntervalMs: 0, watch: { pollMs: 20, notFoundAfterMs: 300 } },
  });
  const everything = new ServiceSequence(
    [
      { name: "backends", start: () => backends.start(), stop: () => backends.stop() },
      { name: "server", start: () => app.start(), stop: () => app.stop() },
    ],
    () => {},
  );
  await everything.start();
  const { broker, tracking } = app.backends;
  const rest = app.rest as RestServer;
  return {
    dir,
    keysFile,
    broker,
    tracking,
    service: app.service,
    rest,
    async call(urlPath, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      const key = init.key === undefined ? ADMIN_KEY : init.key;
      if (key !== null) headers.authorization = `Bearer ${key}`;
      const body = init.raw ?? (init.body !== undefined ? JSON.stringify(init.body) : undefined);
      if (body !== undefined) headers["content-type"] = init.type ?? "application/json";
      const response = await fetch(`${rest.url}${urlPath}`, {
        method: init.method ?? (body !== undefined ? "POST" : "GET"),
        headers,
        ...(body !== undefined ? { body } : {}),
      });
      const text = await response.text();
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // not JSON (metrics): keep the text
      }
      return { status: response.status, headers: response.headers, json, text };
    },
    async key(name, scopes) {
      return (await createApiKey(keysFile, { name, scopes })).key;
    },
    stats: (queue = "default") => broker.stats(queue),
    async cleanup() {
      await everything.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `probe` every 20 ms until it returns a value (tracking is eventually consistent). */
export async function until<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits until the service's record of `id` has `status` (and `run`, when given). */
export function statusOf(
  service: TaskService,
  id: string,
  status: string,
  run?: number,
): Promise<import("../tracking/tracking-store.js").TaskRecord> {
  return until(
    async () => {
      const record = await service.get(id);
      return record.status === status && (run === undefined || record.run === run)
        ? record
        : undefined;
    },
    `task ${id} to be ${status}${run !== undefined ? ` (run ${run})` : ""}`,
  );
}
