// One broker backend as the benchmark sees it. Every backend gets its own table in the report:
// GoTaskQ on that backend with tracking on and off, beside the raw ceiling of the same client
// library and BullMQ (measured once per scenario, shown in every table). GoTaskQ's children open
// the broker by URL exactly as the CLI does (`openBroker`), so a backend needs no GoTaskQ
// scenario code of its own. What a backend adds is this description, in `bench/backends/<name>.ts`
// (exporting `backend: BenchBackend`), and its raw ceiling in `bench/raw-<name>-scenarios.ts`,
// exporting `prepareRaw: PrepareRole` (bench/role.ts), whose children receive the target
// `{ system: "raw", backend: <name>, url: rawUrl(…) }`.

/**
 * Names one cell's storage: unique per run, column and scenario group, made of [a-z0-9-] only,
 * so it can be used as a key prefix, a queue-name prefix or a folder name. Scenario 2 (drain)
 * gets the same scope as scenario 1 (enqueue) of its column, since it drains that backlog.
 */
export type Scope = string;

export interface BenchBackend {
  /** As in `BENCH_BACKENDS`: "sqlite", "redis", "rabbitmq", "sqs". */
  readonly name: string;
  /** The table's title, e.g. "Redis Streams". */
  readonly title: string;
  /** Column header of the raw ceiling, e.g. "raw ioredis streams ceiling". */
  readonly rawLabel: string;
  /** One sentence for "How to read it": what the raw ceiling does. */
  readonly rawDescription: string;
  /** Why this backend cannot be measured here (server down, …); undefined when it can. */
  unavailable(): Promise<string | undefined>;
  /** Starts what the run needs (an emulator, …). Called once, before any child starts. */
  start(runId: string): Promise<void>;
  /** `GOTASKQ_BROKER_URL` for GoTaskQ's children of one cell; `dir` is a fresh folder. */
  brokerUrl(scope: Scope, dir: string): string;
  /** `GOTASKQ_TRACKING_URL` for "tracking on" (absent: a SQLite file in `dir`). */
  trackingUrl?(scope: Scope, dir: string): string;
  /** The URL handed to the raw ceiling's children of one cell. */
  rawUrl(scope: Scope, dir: string): string;
  /** One line for the report header: server version and its durability settings. */
  describe(): Promise<string>;
  /** Removes what this run left on the server (keys, queues) and stops what `start` started. */
  stop(runId: string): Promise<void>;
}
