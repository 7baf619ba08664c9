import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Broker, QueueStats } from "../broker/broker.js";
import { openSqliteBroker } from "../broker/sqlite/sqlite-broker.js";
import { demoTasks } from "../demo/demo-tasks.js";
import { type Logger, silentLogger } from "../logging/logger.js";
import { Producer } from "../producer/producer.js";
import { BestEffortWriter } from "../tracking/best-effort-writer.js";
import { openSqlTrackingStore } from "../tracking/sql/sql-tracking-store.js";
import type { TrackingStore } from "../tracking/tracking-store.js";
import { Worker } from "../worker/worker.js";
import { ApiKeyVerifier } from "./auth/api-key-verifier.js";
import { createApiKey } from "./auth/keys-file.js";
import type { Scope } from "./auth/scopes.js";
import { TokenBucketLimiter } from "./rate-limiter.js";
import { type RestServer, startRestServer } from "./rest/server.js";
import { TaskService } from "./task-service.js";

// The real API stack for tests: SQLite broker and SQLite tracking store in a temp directory, a
// Producer behind a best-effort writer, the TaskService, the REST server on an ephemeral port
// and, when asked, a Worker running the demo functions. `cleanup()` stops and removes it all.

export const ADMIN_KEY = "gtq_test_admin_key_0123456789abcdefghijklmnop";

export interface StackOptions {
  /** Give the service the demo registry (unknown keys → 422). Default true. */
  registry?: boolean;
  /** Run a worker with the demo functions. Default false. */
  worker?: boolean;
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

export async function startApiStack(options: StackOptions = {}): Promise<ApiStack> {
  const dir = mkdtempSync(path.join(tmpdir(), "gotaskq-api-"));
  const logger = options.logger ?? silentLogger();
  const broker = openSqliteBroker({ path: path.join(dir, "broker.db"), pollIntervalMs: 10 });
  const tracking = await openSqlTrackingStore(`sqlite://${path.join(dir, "tracking.db")}`);
  await tracking.migrate();
  const writer = new BestEffortWriter(tracking, { logger, flushIntervalMs: 10 });
  await writer.start();
  const registry = options.registry === false ? undefined : demoTasks();
  const producer = new Producer({
    broker,
    tracking: writer,
    logger,
    ...(registry ? { registry } : {}),
    ...(options.maxPayloadBytes !== undefined ? { maxPayloadBytes: options.maxPayloadBytes } : {}),
  });
  const service = new TaskService({
    producer,
    broker,
    tracking,
    logger,
    ...(registry ? { registry } : {}),
    watch: { pollMs: 20, notFoundAfterMs: 300 },
  });
  const worker = options.worker
    ? new Worker({
        broker,
        registry: demoTasks(),
        tracking: writer,
        logger,
        leaseMs: 2_000,
        heartbeatIntervalMs: 50,
        shutdownGraceMs: 500,
        graceMs: 100,
      })
    : undefined;
  await worker?.start();
  const keysFile = path.join(dir, "api-keys.json");
  const auth = await ApiKeyVerifier.load({
    keysFile,
    plaintextKeys: [ADMIN_KEY],
    recheckIntervalMs: 0,
  });
  const rest = await startRestServer({
    service,
    auth,
    ...(options.rateLimit ? { rateLimiter: new TokenBucketLimiter(options.rateLimit) } : {}),
    host: "127.0.0.1",
    port: 0,
    bodyLimitBytes: options.bodyLimitBytes ?? 1_048_576,
    logger,
  });
  return {
    dir,
    keysFile,
    broker,
    tracking,
    service,
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
      await rest.close();
      await worker?.stop();
      await writer.stop();
      await broker.close();
      await tracking.close();
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
