// One broker backend as the benchmark sees it. Every backend gets its own table in the report:
// GoTaskQ on that backend with tracking on and off, beside the raw ceiling of the same client
// library (and, for Redis, BullMQ). GoTaskQ's children open the broker by URL exactly as the
// CLI does (`openBroker`), so a backend needs no GoTaskQ scenario code of its own; what it adds
// is this description and its raw ceiling in `bench/raw-<name>-scenarios.ts`, whose module
// exports `prepareRaw: PrepareRole` (bench/role.ts) and receives the target
// `{ system: "raw", backend: <name>, url: rawUrl(...) }`.

/** Scenario 1 fills the backlog that scenario 2 drains; scenario 3 uses fresh storage. */
export type Group = "backlog" | "mixed";

export interface BenchBackend {
  /** As in `BENCH_BACKENDS`: "sqlite", "redis", "rabbitmq", "sqs". */
  readonly name: string;
  /** The table's title, e.g. "Redis Streams (Redis 7.0.15)". */
  readonly title: string;
  /** Column header of the raw ceiling, e.g. "raw ioredis streams ceiling". */
  readonly rawLabel: string;
  /** Why this backend cannot be measured here (server down, …); undefined when it can. */
  unavailable(): Promise<string | undefined>;
  /** Starts what the run needs (an emulator, …). Called once, before any child starts. */
  start(runId: string): Promise<void>;
  /** `GOTASKQ_BROKER_URL` for GoTaskQ's children of one group, isolated per run and group. */
  brokerUrl(runId: string, group: Group, dir: string): string;
  /** `GOTASKQ_TRACKING_URL` for "tracking on" (default: a SQLite file in `dir`). */
  trackingUrl?(runId: string, group: Group, dir: string): string;
  /** The URL handed to the raw ceiling's children, isolated the same way. */
  rawUrl(runId: string, group: Group, dir: string): string;
  /** One line for the report header: server version and its durability settings. */
  describe(): Promise<string>;
  /** Removes what this run left on the server (keys, queues) and stops what `start` started. */
  stop(runId: string): Promise<void>;
}
