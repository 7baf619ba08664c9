import type { Broker } from "../broker/broker.js";
import { InvalidArgumentError } from "../core/errors.js";
import type { Logger } from "../logging/logger.js";
import type { TrackingStore } from "../tracking/tracking-store.js";

// The one place that knows the concrete backends: a URL in, a seam out. The composition root
// (src/app/) and applications that wire GoTaskQ themselves call it; everything else (worker,
// producer, API) sees `Broker` and `TrackingStore` only.
//
// Each adapter module exports its `SCHEMES` and an `open(url, options)`; the tables below route
// a scheme to that module. The import runs when the scheme is asked for, so a process carries
// only the client libraries it uses (a SQLite worker never loads the AWS SDK, and the reverse).
// open.test.ts checks that the tables and the adapters' SCHEMES agree.

interface BrokerAdapter {
  readonly SCHEMES: readonly string[];
  open(url: string, options: { warn?: (message: string) => void }): Broker;
}

interface TrackingAdapter {
  readonly SCHEMES: readonly string[];
  open(url: string, options: OpenTrackingOptions): Promise<TrackingStore>;
}

const sqliteBroker = () => import("../broker/sqlite/sqlite-broker.js");
const rabbitBroker = () => import("../broker/rabbitmq/rabbitmq-broker.js");
const redisBroker = () => import("../broker/redis/redis-broker.js");

/** Scheme (lowercase, with its colon) → the adapter module that opens it. */
export const BROKER_ADAPTERS: Readonly<Record<string, () => Promise<BrokerAdapter>>> = {
  "sqlite:": sqliteBroker,
  "memory:": () => import("../broker/memory/memory-broker.js"),
  "amqp:": rabbitBroker,
  "amqps:": rabbitBroker,
  "redis:": redisBroker,
  "rediss:": redisBroker,
  "sqs:": () => import("../broker/sqs/sqs-broker.js"),
};

const sqlTracking = () => import("../tracking/sql/sql-tracking-store.js");
const redisTracking = () => import("../tracking/redis/open-redis-tracking-store.js");

/** Scheme → the tracking store module that opens it; `none` has no colon. */
export const TRACKING_ADAPTERS: Readonly<Record<string, () => Promise<TrackingAdapter>>> = {
  none: () => import("../tracking/none-store.js"),
  "none:": () => import("../tracking/none-store.js"),
  "sqlite:": sqlTracking,
  "postgres:": sqlTracking,
  "postgresql:": sqlTracking,
  "redis:": redisTracking,
  "rediss:": redisTracking,
};

/** `amqp://host` → `amqp:`; a URL without a colon is its own scheme (`none`). */
function schemeOf(url: string): string {
  const colon = url.indexOf(":");
  return (colon < 0 ? url : url.slice(0, colon + 1)).toLowerCase();
}

function adapterFor<T>(table: Readonly<Record<string, T>>, url: string): T | undefined {
  const scheme = schemeOf(url);
  return Object.hasOwn(table, scheme) ? table[scheme] : undefined;
}

export interface OpenBrokerOptions {
  /**
   * Where a broker's own notices go (Redis: the start-up durability checks, outages), as
   * `broker_warning` lines; without one they go to the console.
   */
  logger?: Logger;
}

export async function openBroker(url: string, options: OpenBrokerOptions = {}): Promise<Broker> {
  const load = adapterFor(BROKER_ADAPTERS, url);
  if (!load) {
    throw new InvalidArgumentError(
      `GOTASKQ_BROKER_URL ${JSON.stringify(url)} has an unknown scheme; use sqlite://, amqp(s)://, redis(s)://, sqs:// or memory:// (e.g. sqlite://.gotaskq/broker.db)`,
    );
  }
  const { logger } = options;
  const adapter = await load();
  return adapter.open(
    url,
    logger ? { warn: (message) => logger.warn({ event: "broker_warning" }, message) } : {},
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

/** Opens the tracking store a URL names, migrated and ready for use. */
export async function openTracking(
  url: string,
  options: OpenTrackingOptions = {},
): Promise<TrackingStore> {
  const load = adapterFor(TRACKING_ADAPTERS, url);
  if (!load) {
    throw new InvalidArgumentError(
      `GOTASKQ_TRACKING_URL ${JSON.stringify(url)} is not understood; use sqlite://path, postgres://…, redis://… or none`,
    );
  }
  return (await load()).open(url, options);
}
