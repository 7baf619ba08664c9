import { InvalidArgumentError } from "../core/errors.js";
import type { LogFormat } from "../logging/logger.js";

// The one configuration type. Library code receives a resolved `GoTaskQConfig`; only the CLI
// reads the environment and flags, then calls `resolveConfig` (pure: same input, same output).
// Every field's comment ends with its default.

export interface GoTaskQConfig {
  /** Broker chosen by URL scheme: sqlite://path, memory://. Default `sqlite://.gotaskq/broker.db`. */
  brokerUrl: string;
  /** Tracking store by URL: sqlite://path, postgres://…, none. Default `sqlite://.gotaskq/tracking.db`. */
  trackingUrl: string;
  /**
   * Coordination store by URL (idempotency keys, unique tasks, shared sessions): sqlite://path,
   * redis://…, postgres://…, memory://, or `none` (features that need it then refuse). Opened
   * only when a feature first needs it. Default unset: the broker URL when it is sqlite:// or
   * redis://, else the tracking URL when it is postgres:// or redis://, else none.
   */
  coordinationUrl: string | undefined;
  /** Interface the API servers bind. Default `127.0.0.1`. */
  host: string;
  /** REST port. Default 8080. */
  httpPort: number;
  /** gRPC port. Default 50051. */
  grpcPort: number;
  /** Handlers one worker process runs at once. Default 16. */
  concurrency: number;
  /** Queues a worker consumes. Default `["default"]`. */
  queues: string[];
  /** Largest accepted payload in bytes, capped by the broker's own limit. Default 1 MiB. */
  maxPayloadBytes: number;
  /** How long a delivery stays invisible while its worker lives (extended while it runs). Default 30 s. */
  leaseMs: number;
  /** How long shutdown waits for running tasks before releasing them. Default 30 s. */
  shutdownGraceMs: number;
  /** Tracking events held in memory while the tracking store is slow or down. Default 10,000. */
  trackingBufferItems: number;
  /** Plaintext API keys with every scope (development, tests). Default none. */
  apiKeys: string[];
  /** JSON file of hashed API keys with scopes, written by `gotaskq keys`. Default `.gotaskq/api-keys.json`. */
  apiKeysFile: string;
  /** JSON file of dashboard operators (name, role, scrypt hash), written by `gotaskq operators`. Default `.gotaskq/operators.json`. */
  operatorsFile: string;
  /** Password of the `admin` operator `gotaskq dev` creates; generated and printed when unset. Default unset. */
  devPassword?: string;
  /** Largest REST request body / gRPC message, in bytes. Default 1 MiB. */
  maxBodyBytes: number;
  /** Sustained requests per second allowed per API key. Default 2000. */
  rateLimitPerSecond: number;
  /** Requests an API key may burst above the sustained rate. Default 4000. */
  rateLimitBurst: number;
  /** pino level. Default `info`. */
  logLevel: string;
  /**
   * Log lines as JSON, human-readable (`pretty`), or `auto`: human-readable when the log's
   * stream is a terminal, JSON for a pipe or file. GOTASKQ_LOG_FORMAT or `--log-format`.
   * Default `auto`.
   */
  logFormat: LogFormat;
  /**
   * Run the scheduler in `dev`, `worker` and `server` (schedules need the coordination store;
   * any number of processes may run it). `--no-scheduler` or GOTASKQ_SCHEDULER=off turns it
   * off. Default true.
   */
  scheduler: boolean;
  /** How long a scheduler may hold a tick before another takes it over (ms). Default 10 000. */
  schedulerLeaseMs: number;
  /**
   * A remote GoTaskQ server's REST base URL: the CLI's task commands (submit, status, list, logs,
   * cancel, requeue, dlq, queues, workers) talk to it instead of local backends. Default unset.
   */
  apiUrl: string | undefined;
  /** The API key the CLI sends to `apiUrl`. Default unset. */
  apiKey: string | undefined;
}

export const DEFAULT_CONFIG: GoTaskQConfig = {
  brokerUrl: "sqlite://.gotaskq/broker.db",
  trackingUrl: "sqlite://.gotaskq/tracking.db",
  coordinationUrl: undefined,
  host: "127.0.0.1",
  httpPort: 8080,
  grpcPort: 50051,
  concurrency: 16,
  queues: ["default"],
  maxPayloadBytes: 1_048_576,
  leaseMs: 30_000,
  shutdownGraceMs: 30_000,
  trackingBufferItems: 10_000,
  apiKeys: [],
  apiKeysFile: ".gotaskq/api-keys.json",
  operatorsFile: ".gotaskq/operators.json",
  maxBodyBytes: 1_048_576,
  rateLimitPerSecond: 2_000,
  rateLimitBurst: 4_000,
  apiUrl: undefined,
  apiKey: undefined,
  logLevel: "info",
  logFormat: "auto",
  scheduler: true,
  schedulerLeaseMs: 10_000,
};

type Source = Record<string, string | undefined>;

function integer(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new InvalidArgumentError(
      `${name} must be an integer between ${min} and ${max} (got ${JSON.stringify(raw)})`,
    );
  }
  return n;
}

function positiveInt(
  name: string,
  raw: string | undefined,
  fallback: number,
  max = 2 ** 31,
): number {
  return integer(name, raw, fallback, 1, max);
}

/** 0 asks the OS for any free port (tests, several dev processes on one machine). */
function port(name: string, raw: string | undefined, fallback: number): number {
  return integer(name, raw, fallback, 0, 65_535);
}

/** The log formats, spelled here so that reading the config does not load the logger. */
const LOG_FORMATS: readonly LogFormat[] = ["json", "pretty", "auto"];

function logFormat(raw: string | undefined, fallback: LogFormat): LogFormat {
  if (raw === undefined || raw === "") return fallback;
  const format = raw.trim().toLowerCase();
  if ((LOG_FORMATS as readonly string[]).includes(format)) return format as LogFormat;
  throw new InvalidArgumentError(
    `GOTASKQ_LOG_FORMAT must be json, pretty or auto (human-readable on a terminal, JSON otherwise) (got ${JSON.stringify(raw)})`,
  );
}

function onOff(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === "") return fallback;
  const value = raw.trim().toLowerCase();
  if (["1", "true", "on", "yes"].includes(value)) return true;
  if (["0", "false", "off", "no"].includes(value)) return false;
  throw new InvalidArgumentError(`${name} must be on or off (got ${JSON.stringify(raw)})`);
}

/** The GOTASKQ_* environment variables, mapped to config; flags override them. */
export function resolveConfig(env: Source, flags: Partial<GoTaskQConfig> = {}): GoTaskQConfig {
  const d = DEFAULT_CONFIG;
  const queues = env.GOTASKQ_QUEUES?.split(",")
    .map((q) => q.trim())
    .filter(Boolean);
  const fromEnv: GoTaskQConfig = {
    brokerUrl: env.GOTASKQ_BROKER_URL || d.brokerUrl,
    trackingUrl: env.GOTASKQ_TRACKING_URL || d.trackingUrl,
    coordinationUrl: env.GOTASKQ_COORDINATION_URL || d.coordinationUrl,
    host: env.GOTASKQ_HOST || d.host,
    httpPort: port("GOTASKQ_HTTP_PORT", env.GOTASKQ_HTTP_PORT, d.httpPort),
    grpcPort: port("GOTASKQ_GRPC_PORT", env.GOTASKQ_GRPC_PORT, d.grpcPort),
    concurrency: positiveInt("GOTASKQ_CONCURRENCY", env.GOTASKQ_CONCURRENCY, d.concurrency, 10_000),
    queues: queues && queues.length > 0 ? queues : d.queues,
    maxPayloadBytes: positiveInt(
      "GOTASKQ_MAX_PAYLOAD_BYTES",
      env.GOTASKQ_MAX_PAYLOAD_BYTES,
      d.maxPayloadBytes,
    ),
    leaseMs: positiveInt("GOTASKQ_LEASE_MS", env.GOTASKQ_LEASE_MS, d.leaseMs),
    shutdownGraceMs: positiveInt(
      "GOTASKQ_SHUTDOWN_GRACE_MS",
      env.GOTASKQ_SHUTDOWN_GRACE_MS,
      d.shutdownGraceMs,
    ),
    trackingBufferItems: positiveInt(
      "GOTASKQ_TRACKING_BUFFER_ITEMS",
      env.GOTASKQ_TRACKING_BUFFER_ITEMS,
      d.trackingBufferItems,
    ),
    apiKeys: (env.GOTASKQ_API_KEYS ?? "")
      .split(",")
      .map((k) => k.trim())
      .filter(Boolean),
    apiKeysFile: env.GOTASKQ_API_KEYS_FILE || d.apiKeysFile,
    operatorsFile: env.GOTASKQ_OPERATORS_FILE || d.operatorsFile,
    ...(env.GOTASKQ_DEV_PASSWORD ? { devPassword: env.GOTASKQ_DEV_PASSWORD } : {}),
    maxBodyBytes: positiveInt("GOTASKQ_MAX_BODY_BYTES", env.GOTASKQ_MAX_BODY_BYTES, d.maxBodyBytes),
    rateLimitPerSecond: positiveInt(
      "GOTASKQ_RATE_LIMIT_PER_SECOND",
      env.GOTASKQ_RATE_LIMIT_PER_SECOND,
      d.rateLimitPerSecond,
    ),
    rateLimitBurst: positiveInt(
      "GOTASKQ_RATE_LIMIT_BURST",
      env.GOTASKQ_RATE_LIMIT_BURST,
      d.rateLimitBurst,
    ),
    logLevel: env.GOTASKQ_LOG_LEVEL || d.logLevel,
    logFormat: logFormat(env.GOTASKQ_LOG_FORMAT, d.logFormat),
    scheduler: onOff("GOTASKQ_SCHEDULER", env.GOTASKQ_SCHEDULER, d.scheduler),
    schedulerLeaseMs: integer(
      "GOTASKQ_SCHEDULER_LEASE_MS",
      env.GOTASKQ_SCHEDULER_LEASE_MS,
      d.schedulerLeaseMs,
      100,
      3_600_000,
    ),
    apiUrl: env.GOTASKQ_API_URL || d.apiUrl,
    apiKey: env.GOTASKQ_API_KEY || d.apiKey,
  };
  const defined = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  return { ...fromEnv, ...defined };
}
