import path from "node:path";
import { InvalidArgumentError } from "../core/errors.js";
import type { CoordinationStore } from "./coordination-store.js";

// A coordination URL in, a CoordinationStore out. Each adapter module exports its `SCHEMES` and
// an `open(url, options)`; the table below routes a scheme to that module, imported only when
// the scheme is asked for, so a process carries only the client library it uses (a SQLite
// deployment never loads ioredis or pg). open.test.ts checks that the table and the adapters'
// SCHEMES agree.

export interface OpenCoordinationOptions {
  /** Deployment prefix every key is namespaced by; each store's default is "gotaskq". */
  prefix?: string;
  /** The longest any call may take before it rejects `unavailable` (ms); each store's default. */
  operationTimeoutMs?: number;
}

interface CoordinationAdapter {
  readonly SCHEMES: readonly string[];
  open(
    url: string,
    options: OpenCoordinationOptions,
  ): CoordinationStore | Promise<CoordinationStore>;
}

const redis = () => import("./redis/redis-coordination-store.js");
const postgres = () => import("./postgres/postgres-coordination-store.js");

/** Scheme (lowercase, with its colon) → the adapter module that opens it. */
export const COORDINATION_ADAPTERS: Readonly<Record<string, () => Promise<CoordinationAdapter>>> = {
  "memory:": () => import("./memory/memory-coordination-store.js"),
  "sqlite:": () => import("./sqlite/sqlite-coordination-store.js"),
  "redis:": redis,
  "rediss:": redis,
  "postgres:": postgres,
  "postgresql:": postgres,
};

function schemeOf(url: string): string {
  const colon = url.indexOf(":");
  return (colon < 0 ? url : url.slice(0, colon + 1)).toLowerCase();
}

export async function openCoordinationStore(
  url: string,
  options: OpenCoordinationOptions = {},
): Promise<CoordinationStore> {
  const scheme = schemeOf(url);
  const load = Object.hasOwn(COORDINATION_ADAPTERS, scheme)
    ? COORDINATION_ADAPTERS[scheme]
    : undefined;
  if (!load) {
    throw new InvalidArgumentError(
      `GOTASKQ_COORDINATION_URL ${JSON.stringify(url)} has an unknown scheme; use sqlite://, redis(s)://, postgres(ql):// or memory:// (e.g. sqlite://.gotaskq/coordination.db)`,
    );
  }
  return (await load()).open(url, options);
}

/**
 * The coordination URL a deployment gets when it sets none: the broker's store when it can hold
 * keys (SQLite, Redis), else the tracking store's when it can (PostgreSQL, Redis), else none
 * (features that need one refuse at start-up).
 *
 * A SQLite broker gets a sibling file, `coordination.db` beside the broker's file, rather than
 * the broker's own: SQLite has one write lock per file, and sharing it would make every
 * idempotency check wait behind the broker's publish and claim transactions (and the reverse);
 * a separate file can also be inspected, backed up or deleted on its own. The broker's query
 * (`?synchronous=`) is the broker's and is not carried over.
 */
export function defaultCoordinationUrl(brokerUrl: string, trackingUrl: string): string | undefined {
  const broker = schemeOf(brokerUrl);
  if (broker === "sqlite:") return siblingSqliteUrl(brokerUrl);
  if (broker === "redis:" || broker === "rediss:") return brokerUrl;
  const tracking = schemeOf(trackingUrl);
  if (["postgres:", "postgresql:", "redis:", "rediss:"].includes(tracking)) return trackingUrl;
  return undefined;
}

/** `sqlite://dir/broker.db?x` → `sqlite://dir/coordination.db`, relative or absolute alike. */
function siblingSqliteUrl(brokerUrl: string): string {
  const [file = ""] = brokerUrl.slice("sqlite://".length).split("?");
  return `sqlite://${path.posix.join(path.posix.dirname(file), "coordination.db")}`;
}
