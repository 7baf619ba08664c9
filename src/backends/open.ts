import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Broker } from "../broker/broker.js";
import { InvalidArgumentError } from "../core/errors.js";
import type { Logger } from "../logging/logger.js";
import type { TrackingStore } from "../tracking/tracking-store.js";

// The one place that knows the concrete backends: a URL in, a seam out (STYLE §9). The CLI and
// applications that wire GoTaskQ themselves call it; everything else (worker, producer, API)
// sees `Broker` and `TrackingStore` only. Implementations are imported when their scheme is
// asked for, so a process carries only the client libraries it uses (a SQLite worker never
// loads the AWS SDK, and the reverse).

/** `sqlite://rel/path.db` is relative to the working directory, `sqlite:///abs/path.db` absolute. */
export function sqlitePath(url: string): string {
  const rest = url.replace(/^sqlite:\/\//, "").split("?")[0] ?? "";
  if (rest === "")
    throw new InvalidArgumentError(`${url} names no file; use e.g. sqlite://.gotaskq/broker.db`);
  const file = path.resolve(rest);
  mkdirSync(path.dirname(file), { recursive: true });
  return file;
}

export interface OpenBrokerOptions {
  /**
   * Where a broker's own notices go (Redis: the start-up durability checks, outages), as
   * `broker_warning` lines; without one they go to the console.
   */
  logger?: Logger;
}

export async function openBroker(url: string, options: OpenBrokerOptions = {}): Promise<Broker> {
  const scheme = url.slice(0, url.indexOf(":") + 1).toLowerCase();
  if (scheme === "sqlite:") {
    const sync = new URL(url.replace(/^sqlite:/, "http:")).searchParams.get("synchronous");
    const { openSqliteBroker } = await import("../broker/sqlite/sqlite-broker.js");
    return openSqliteBroker({
      path: sqlitePath(url),
      ...(sync === "full" ? { synchronous: "full" } : {}),
    });
  }
  if (scheme === "memory:") {
    const { createMemoryBroker } = await import("../broker/memory/memory-broker.js");
    return createMemoryBroker();
  }
  if (scheme === "amqp:" || scheme === "amqps:") {
    // Connects lazily (and again after a loss); URL options in src/broker/rabbitmq/options.ts.
    const { openRabbitBroker } = await import("../broker/rabbitmq/rabbitmq-broker.js");
    return openRabbitBroker(url);
  }
  if (scheme === "sqs:") {
    const { openSqsBroker, parseSqsUrl } = await import("../broker/sqs/sqs-broker.js");
    return openSqsBroker(parseSqsUrl(url));
  }
  // redis://[user:password@]host[:port][/db][?prefix=gotaskq][&cluster=true]; rediss:// for TLS.
  if (scheme === "redis:" || scheme === "rediss:") {
    const { openRedisBroker, redisBrokerOptionsFromUrl } = await import(
      "../broker/redis/redis-broker.js"
    );
    const logger = options.logger;
    return openRedisBroker({
      ...redisBrokerOptionsFromUrl(url),
      ...(logger
        ? { warn: (message: string) => logger.warn({ event: "broker_warning" }, message) }
        : {}),
    });
  }
  throw new InvalidArgumentError(
    `GOTASKQ_BROKER_URL ${JSON.stringify(url)} has an unknown scheme; use sqlite://, amqp(s)://, redis(s)://, sqs:// or memory:// (e.g. sqlite://.gotaskq/broker.db)`,
  );
}

export interface OpenTrackingOptions {
  /**
   * Write a SQLite tracking file from a worker thread unless the URL says `write_thread=`: worth
   * it where the event loop serves requests (an API server) and a core is free for the thread;
   * a busy worker does better writing inline, where tracking slows it instead of dropping events.
   */
  sqliteWriteThread?: boolean;
}

export async function openTracking(
  url: string,
  options: OpenTrackingOptions = {},
): Promise<TrackingStore> {
  if (url === "none" || url === "none://") {
    const { createNoneTrackingStore } = await import("../tracking/none-store.js");
    return createNoneTrackingStore();
  }
  if (url.startsWith("sqlite://")) {
    const { openSqlTrackingStore } = await import("../tracking/sql/sql-tracking-store.js");
    const query = url.includes("?") ? url.slice(url.indexOf("?")) : "";
    const store = await openSqlTrackingStore(`sqlite://${sqlitePath(url)}${query}`, {
      writeThread: options.sqliteWriteThread ?? false,
    });
    await store.migrate();
    return store;
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const { openSqlTrackingStore } = await import("../tracking/sql/sql-tracking-store.js");
    const store = await openSqlTrackingStore(url);
    await store.migrate();
    return store;
  }
  if (url.startsWith("redis://") || url.startsWith("rediss://")) {
    // ?prefix=…&retention=7d&log_lines=10000 (tracking/redis/redis-tracking-options.ts)
    const { openRedisTrackingStore } = await import(
      "../tracking/redis/open-redis-tracking-store.js"
    );
    const store = openRedisTrackingStore(url);
    try {
      await store.migrate();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }
  throw new InvalidArgumentError(
    `GOTASKQ_TRACKING_URL ${JSON.stringify(url)} is not understood; use sqlite://path, postgres://…, redis://… or none`,
  );
}
