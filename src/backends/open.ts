import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Broker } from "../broker/broker.js";
import { createMemoryBroker } from "../broker/memory/memory-broker.js";
import { openRabbitBroker } from "../broker/rabbitmq/rabbitmq-broker.js";
import { openSqliteBroker } from "../broker/sqlite/sqlite-broker.js";
import { InvalidArgumentError } from "../core/errors.js";
import { createNoneTrackingStore } from "../tracking/none-store.js";
import { openSqlTrackingStore } from "../tracking/sql/sql-tracking-store.js";
import type { TrackingStore } from "../tracking/tracking-store.js";

// The one place that knows the concrete backends: a URL in, a seam out (STYLE §9). The CLI and
// applications that wire GoTaskQ themselves call it; everything else (worker, producer, API)
// sees `Broker` and `TrackingStore` only.

const PLANNED: Record<string, string> = {
  "redis:": "Redis Streams",
  "rediss:": "Redis Streams",
  "sqs:": "AWS SQS",
};

/** `sqlite://rel/path.db` is relative to the working directory, `sqlite:///abs/path.db` absolute. */
export function sqlitePath(url: string): string {
  const rest = url.replace(/^sqlite:\/\//, "").split("?")[0] ?? "";
  if (rest === "")
    throw new InvalidArgumentError(`${url} names no file; use e.g. sqlite://.gotaskq/broker.db`);
  const file = path.resolve(rest);
  mkdirSync(path.dirname(file), { recursive: true });
  return file;
}

export function openBroker(url: string): Broker {
  const scheme = url.slice(0, url.indexOf(":") + 1).toLowerCase();
  if (scheme === "sqlite:") {
    const sync = new URL(url.replace(/^sqlite:/, "http:")).searchParams.get("synchronous");
    return openSqliteBroker({
      path: sqlitePath(url),
      ...(sync === "full" ? { synchronous: "full" } : {}),
    });
  }
  if (scheme === "memory:") return createMemoryBroker();
  // Connects lazily (and again after a loss); options in src/broker/rabbitmq/options.ts.
  if (scheme === "amqp:" || scheme === "amqps:") return openRabbitBroker(url);
  const planned = PLANNED[scheme];
  if (planned) {
    throw new InvalidArgumentError(
      `the ${planned} broker (${scheme}//) is not available in this version yet; use sqlite:// or memory://`,
    );
  }
  throw new InvalidArgumentError(
    `GOTASKQ_BROKER_URL ${JSON.stringify(url)} has an unknown scheme; use e.g. sqlite://.gotaskq/broker.db`,
  );
}

export async function openTracking(url: string): Promise<TrackingStore> {
  if (url === "none" || url === "none://") return createNoneTrackingStore();
  if (url.startsWith("sqlite://")) {
    const store = await openSqlTrackingStore(`sqlite://${sqlitePath(url)}`);
    await store.migrate();
    return store;
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const store = await openSqlTrackingStore(url);
    await store.migrate();
    return store;
  }
  if (url.startsWith("redis://")) {
    throw new InvalidArgumentError(
      "the Redis tracking store is not available in this version yet; use sqlite://, postgres:// or none",
    );
  }
  throw new InvalidArgumentError(
    `GOTASKQ_TRACKING_URL ${JSON.stringify(url)} is not understood; use sqlite://path, postgres://… or none`,
  );
}
