// Benchmark settings, read from the environment once by the orchestrator (bench/run.ts) and
// handed to every child as plain data. Defaults are the sizes the issue asks for; a smoke run is
// `BENCH_TASKS=5000 BENCH_API_DURATION_S=3 npm run bench`. `BENCH_API=only` measures the API
// alone, `BENCH_API=off` the queue scenarios alone. The product phase (the real CLI processes,
// bench/product-phase.ts) runs first; `BENCH_PRODUCT=only BENCH_PRODUCT_TASKS=2000` is its smoke run.
// The CLI start-up section (bench/cli-startup.ts) runs before everything: `BENCH_CLI=only` alone.

import { BACKENDS, type BackendName } from "./backends/load.js";

/**
 * The columns of every backend's table: GoTaskQ with tracking on and off, the backend's raw
 * ceiling, and BullMQ (measured once per scenario, on Redis, and shown in every table).
 */
export const SYSTEMS = ["gotaskq-tracking", "gotaskq-no-tracking", "raw", "bullmq"] as const;
export type SystemName = (typeof SYSTEMS)[number];

export interface BenchConfig {
  /** Backlog size for the enqueue and drain scenarios (`BENCH_TASKS`, default 100 000). */
  tasks: number;
  /** Tasks of the produce-while-consume scenario (`BENCH_MIXED_TASKS`, default tasks / 2). */
  mixedTasks: number;
  /** Handlers a worker runs at once, same for every system (`BENCH_CONCURRENCY`, default 100). */
  concurrency: number;
  /** Messages per publish call: `submitBatch` / `addBulk` (`BENCH_BATCH`, default 1 000). */
  batchSize: number;
  /** Where BullMQ's Redis runs (`BENCH_REDIS_URL`, default redis://127.0.0.1:6379). */
  redisUrl: string;
  /** Columns measured, comma-separated (`BENCH_SYSTEMS`, default all of SYSTEMS). */
  systems: SystemName[];
  /** Backends measured, comma-separated (`BENCH_BACKENDS`, default all; unreachable ones are reported). */
  backends: BackendName[];
  /** A child that has not finished after this long is killed (`BENCH_TIMEOUT_MS`, default 15 min). */
  timeoutMs: number;
  /** When set, every child writes a V8 CPU profile here (`BENCH_CPU_PROF_DIR`, default unset). */
  cpuProfileDir?: string;
  /** Where the markdown report is written (`BENCH_RESULTS`, default bench/results/latest.md). */
  resultsPath: string;
  /** The API phase (REST and gRPC over HTTP): `on` after the queue scenarios, `only`, or `off`. */
  api: ApiMode;
  apiLoad: ApiLoadConfig;
  /** The product phase: `on` before the other phases, `only`, or `off` (`BENCH_PRODUCT`, default on). */
  product: ApiMode;
  productLoad: ProductConfig;
  /** The CLI start-up section (bench/cli-startup.ts): `on` first of all, `only`, or `off` (`BENCH_CLI`, default on). */
  cli: ApiMode;
  /** Timed runs per CLI command (`BENCH_CLI_RUNS`, default 15). */
  cliRuns: number;
}

/**
 * The product phase's cells: the built CLI (`node dist/cli/main.js`) as a user runs it.
 * dev-*: `gotaskq dev`; server-*: `gotaskq server` + `gotaskq worker` processes; library-producer:
 * a `Producer` in the user's own process feeding one `gotaskq worker`.
 */
export const PRODUCT_SCENARIOS = [
  "dev-batches",
  "dev-batches-4-clients",
  "dev-singles",
  "server-1-worker",
  "server-2-workers",
  "library-producer",
] as const;
export type ProductScenario = (typeof PRODUCT_SCENARIOS)[number];

/**
 * Tracking of a product cell: `on` is the like-for-like store (the CLI's default SQLite file; the
 * Redis tracking store on the Redis broker), `sqlite` the CLI's default SQLite file on the Redis
 * broker (measured for dev-batches and server-1-worker only), `off` is `GOTASKQ_TRACKING_URL=none`.
 */
export const PRODUCT_TRACKING = ["on", "sqlite", "off"] as const;
export type ProductTracking = (typeof PRODUCT_TRACKING)[number];

export interface ProductConfig {
  /** Tasks per cell, all submitted then run to the end (`BENCH_PRODUCT_TASKS`, default 20 000). */
  tasks: number;
  /** Scenarios measured, comma-separated (`BENCH_PRODUCT_SCENARIOS`, default all of PRODUCT_SCENARIOS). */
  scenarios: ProductScenario[];
  /** Tracking variants measured, comma-separated (`BENCH_PRODUCT_TRACKING`, default all). */
  tracking: ProductTracking[];
  /** Handlers per worker process: `GOTASKQ_CONCURRENCY` of dev and worker (`BENCH_PRODUCT_CONCURRENCY`, default 100). */
  concurrency: number;
  /** Requests in flight for single REST submissions (`BENCH_PRODUCT_CONNECTIONS`, default 64). */
  connections: number;
  /** How often the queue is asked whether it is empty (`BENCH_PRODUCT_POLL_MS`, default 50). */
  pollMs: number;
  /** A cell not finished after this long is stopped and marked (`BENCH_PRODUCT_CELL_TIMEOUT_MS`, default 10 min). */
  cellTimeoutMs: number;
}

export const API_MODES = ["on", "only", "off"] as const;
export type ApiMode = (typeof API_MODES)[number];

/** The API phase's cells, in the order they run: each reference just before its GoTaskQ cell. */
export const API_CELLS = [
  "rest-hello",
  "rest-submit",
  "rest-hello-batch",
  "rest-batch",
  "rest-batch-idem",
  "rest-batch-idem-redis",
  "grpc-stub",
  "grpc-submit",
] as const;
export type ApiCellName = (typeof API_CELLS)[number];

/** How hard and how long the API phase loads each server (bench/api-phase.ts). */
export interface ApiLoadConfig {
  /** Measured seconds per cell and round (`BENCH_API_DURATION_S`, default 10). */
  durationS: number;
  /**
   * Times every cell is measured, all cells once per round (`BENCH_API_ROUNDS`, default 3); the
   * report shows each cell's best round and the spread, since noise on a shared machine only
   * ever slows a cell down.
   */
  rounds: number;
  /** Unmeasured seconds of the same load first, so the JIT and SQLite caches are warm (`BENCH_API_WARMUP_S`, default 2). */
  warmupS: number;
  /** HTTP connections for single submits (`BENCH_API_CONNECTIONS`, default 64). */
  connections: number;
  /** HTTP connections for batches (`BENCH_API_BATCH_CONNECTIONS`, default 16). */
  batchConnections: number;
  /** Tasks per REST batch request (`BENCH_API_BATCH`, default 1 000, the API's maximum). */
  batchSize: number;
  /** gRPC calls in flight at once on one channel (`BENCH_API_GRPC_IN_FLIGHT`, default 64). */
  grpcInFlight: number;
  /** Cells measured, comma-separated (`BENCH_API_CELLS`, default all of API_CELLS). */
  cells: ApiCellName[];
}

type Env = Record<string, string | undefined>;

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw.replaceAll("_", ""));
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`${name} must be a positive integer such as 5000 (got ${JSON.stringify(raw)})`);
  }
  return n;
}

/** A comma-separated subset of `all`, in `all`'s order; empty or unset = all. */
function subsetOf<T extends string>(env: Env, name: string, all: readonly T[]): T[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return [...all];
  const wanted = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of wanted) {
    if (!(all as readonly string[]).includes(item)) {
      throw new Error(
        `${name}: unknown name ${JSON.stringify(item)}; use some of ${all.join(",")}`,
      );
    }
  }
  return all.filter((s) => wanted.includes(s));
}

function modeOf(name: string, raw: string | undefined): ApiMode {
  if (raw === undefined || raw === "") return "on";
  if ((API_MODES as readonly string[]).includes(raw)) return raw as ApiMode;
  throw new Error(`${name} must be one of ${API_MODES.join(", ")} (got ${JSON.stringify(raw)})`);
}

function readProductConfig(env: Env): ProductConfig {
  return {
    tasks: positiveInt(env, "BENCH_PRODUCT_TASKS", 20_000),
    scenarios: subsetOf(env, "BENCH_PRODUCT_SCENARIOS", PRODUCT_SCENARIOS),
    tracking: subsetOf(env, "BENCH_PRODUCT_TRACKING", PRODUCT_TRACKING),
    concurrency: positiveInt(env, "BENCH_PRODUCT_CONCURRENCY", 100),
    connections: positiveInt(env, "BENCH_PRODUCT_CONNECTIONS", 64),
    pollMs: positiveInt(env, "BENCH_PRODUCT_POLL_MS", 50),
    cellTimeoutMs: positiveInt(env, "BENCH_PRODUCT_CELL_TIMEOUT_MS", 10 * 60_000),
  };
}

export function readBenchConfig(env: Env): BenchConfig {
  const tasks = positiveInt(env, "BENCH_TASKS", 100_000);
  const cpuProfileDir = env.BENCH_CPU_PROF_DIR;
  return {
    tasks,
    mixedTasks: positiveInt(env, "BENCH_MIXED_TASKS", Math.max(1, Math.floor(tasks / 2))),
    concurrency: positiveInt(env, "BENCH_CONCURRENCY", 100),
    batchSize: positiveInt(env, "BENCH_BATCH", 1_000),
    redisUrl: env.BENCH_REDIS_URL || "redis://127.0.0.1:6379",
    // "raw-sqlite" was this column's name before there were other backends.
    systems: subsetOf(
      { ...env, BENCH_SYSTEMS: env.BENCH_SYSTEMS?.replace("raw-sqlite", "raw") },
      "BENCH_SYSTEMS",
      SYSTEMS,
    ),
    backends: subsetOf(env, "BENCH_BACKENDS", BACKENDS),
    timeoutMs: positiveInt(env, "BENCH_TIMEOUT_MS", 15 * 60_000),
    ...(cpuProfileDir ? { cpuProfileDir } : {}),
    resultsPath: env.BENCH_RESULTS || "bench/results/latest.md",
    api: modeOf("BENCH_API", env.BENCH_API),
    product: modeOf("BENCH_PRODUCT", env.BENCH_PRODUCT),
    productLoad: readProductConfig(env),
    cli: modeOf("BENCH_CLI", env.BENCH_CLI),
    cliRuns: positiveInt(env, "BENCH_CLI_RUNS", 15),
    apiLoad: {
      durationS: positiveInt(env, "BENCH_API_DURATION_S", 10),
      rounds: positiveInt(env, "BENCH_API_ROUNDS", 3),
      warmupS: positiveInt(env, "BENCH_API_WARMUP_S", 2),
      connections: positiveInt(env, "BENCH_API_CONNECTIONS", 64),
      batchConnections: positiveInt(env, "BENCH_API_BATCH_CONNECTIONS", 16),
      batchSize: positiveInt(env, "BENCH_API_BATCH", 1_000),
      grpcInFlight: positiveInt(env, "BENCH_API_GRPC_IN_FLIGHT", 64),
      cells: subsetOf(env, "BENCH_API_CELLS", API_CELLS),
    },
  };
}
