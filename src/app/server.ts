import path from "node:path";
import { ApiKeyVerifier } from "../api/auth/api-keys.js";
import type { GrpcServerHandle } from "../api/grpc/server.js";
import { LiveFunctions } from "../api/live-functions.js";
import type { CoordinationSource } from "../api/operators/coordination-access.js";
import { OperatorDirectory } from "../api/operators/operator-directory.js";
import type { OperatorRole } from "../api/operators/operators-file.js";
import { TokenBucketLimiter } from "../api/rate-limiter.js";
import type { DashboardAuth } from "../api/rest/dashboard-auth.js";
import type { RestServer } from "../api/rest/server.js";
import { ScheduleService } from "../api/schedule-service.js";
import { TaskService } from "../api/task-service.js";
import type { WatchOptions } from "../api/task-watch.js";
import type { GoTaskQConfig } from "../config/config.js";
import { GoTaskQError } from "../core/errors.js";
import { type Part, type Service, ServiceSequence } from "../core/lifecycle.js";
import { createLogger, type Logger } from "../logging/logger.js";
import { Producer } from "../producer/producer.js";
import type { TaskRegistry } from "../tasks/registry.js";
import { Backends } from "./backends.js";
import { asPortInUse } from "./port-in-use.js";
import { type SchedulerDeps, schedulerPart } from "./scheduler.js";
import { type WorkerTuning, workerPart } from "./worker.js";

// The composition root of an API process: REST (with the dashboard) and gRPC over one
// TaskService and one Producer, both on the same backends (broker, tracking store, best-effort
// writer), so that what the API submits and what it reads are the same queue and the same
// records, and with the same registry, so that both refuse the same unknown keys. Every
// transport shares one API key verifier and one rate limiter (a key's budget is one budget
// whichever protocol it uses). Optionally a worker runs in the same process (`gotaskq dev`).
//
// Parts start in order: backends → worker → scheduler → REST → gRPC, and stop in reverse, so
// requests stop first, then the scheduler, running tasks finish next, and the backends close
// last. Config arrives resolved: the
// CLI reads the environment, this module never does. The transports (fastify, grpc-js) are
// imported on start, so an application that imports the library for a Producer or a Worker
// does not load them.

export interface InMemoryOperator {
  name: string;
  role: OperatorRole;
  password: string;
}

export interface ServerDeps {
  /** Default: a pino logger at `config.logLevel`. */
  logger?: Logger;
  /**
   * Task definitions: with them the API checks payloads against their schemas (400) and refuses
   * (422) function keys that neither they nor any live worker registers (workers announce their
   * keys on the broker's control channel, which the API then listens to).
   */
  registry?: TaskRegistry;
  /**
   * Backends opened by the caller and shared with other parts; the caller stops them. Default:
   * the server opens its own from the config's URLs and closes them on stop().
   */
  backends?: Backends;
  /**
   * Write a SQLite tracking file from a thread when the server opens its own backends (see
   * `OpenTrackingOptions`). Default: on when no worker runs in the process.
   */
  sqliteWriteThread?: boolean;
  /** Dashboard operators kept in memory besides the operators file (`gotaskq dev`'s admin). */
  operators?: readonly InMemoryOperator[];
  /** Which transports run. Default: REST with the dashboard, and gRPC. */
  transports?: { rest?: boolean; dashboard?: boolean; grpc?: boolean };
  /** Default: a token bucket per API key from `rateLimitPerSecond` and `rateLimitBurst`. */
  rateLimiter?: TokenBucketLimiter;
  /** Also run a worker in this process, on the same backends. Default: none. */
  worker?: { registry: TaskRegistry; tuning?: WorkerTuning };
  /**
   * Also run the scheduler in this process (the CLI does unless --no-scheduler). Default: none,
   * so an application embedding the server opts in.
   */
  scheduler?: SchedulerDeps;
  /** Timings that tests shorten; the defaults suit production. */
  tuning?: ServerTuning;
}

export interface ServerTuning {
  /** How often the keys and operators files are re-read (ms). Default: theirs. */
  recheckIntervalMs?: number;
  /** WatchTask polling. Default: the TaskService's. */
  watch?: Omit<WatchOptions, "now">;
  /** How long gRPC waits for calls in progress on stop (ms). Default 5 000. */
  grpcCloseGraceMs?: number;
  /**
   * The workers' presence interval: for that long after start, a submission of a key nobody is
   * known to run waits for their beats before it is refused (ms). Default 5 000, theirs.
   */
  presenceIntervalMs?: number;
}

/** A running API process; its pieces are readable once start() has resolved. */
export interface GoTaskQServer extends Service {
  readonly logger: Logger;
  readonly backends: Backends;
  readonly service: TaskService;
  readonly producer: Producer;
  /** Undefined when REST is off. */
  readonly rest: RestServer | undefined;
  /** Undefined when gRPC is off. */
  readonly grpc: GrpcServerHandle | undefined;
  /** Dashboard operators known at start (file and in-memory); 0 when the dashboard is off. */
  readonly operatorCount: number;
}

interface Api {
  /** The keys live workers announce; only with a registry (without one, every key is accepted). */
  live: LiveFunctions | undefined;
  producer: Producer;
  service: TaskService;
  schedules: ScheduleService;
  auth: ApiKeyVerifier;
  rateLimiter: TokenBucketLimiter;
}

export function createServer(config: GoTaskQConfig, deps: ServerDeps = {}): GoTaskQServer {
  return new ServerApp(config, deps);
}

class ServerApp implements GoTaskQServer {
  readonly logger: Logger;
  readonly backends: Backends;
  readonly #config: GoTaskQConfig;
  readonly #deps: ServerDeps;
  readonly #sequence: ServiceSequence;
  #api: Api | undefined;
  #rest: RestServer | undefined;
  #grpc: GrpcServerHandle | undefined;
  #operatorCount = 0;

  constructor(config: GoTaskQConfig, deps: ServerDeps) {
    this.#config = config;
    this.#deps = deps;
    const logger =
      deps.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
    this.logger = logger;
    const backends =
      deps.backends ??
      new Backends(config, {
        logger,
        // The API alone: its event loop serves requests, so SQLite tracking writes go to a thread.
        sqliteWriteThread: deps.sqliteWriteThread ?? deps.worker === undefined,
      });
    this.backends = backends;
    const transports = { rest: true, grpc: true, ...deps.transports };
    const parts: Part[] = [
      ...(deps.backends
        ? []
        : [{ name: "backends", start: () => backends.start(), stop: () => backends.stop() }]),
      ...(deps.worker
        ? [workerPart(config, backends, logger, deps.worker.registry, deps.worker.tuning)]
        : []),
      ...(deps.scheduler ? [schedulerPart(config, backends, logger, deps.scheduler)] : []),
      { name: "api", start: () => this.#startApi(), stop: async () => this.#api?.live?.stop() },
      ...(transports.rest
        ? [{ name: "rest", start: () => this.#startRest(), stop: async () => this.#rest?.close() }]
        : []),
      ...(transports.grpc
        ? [{ name: "grpc", start: () => this.#startGrpc(), stop: async () => this.#grpc?.close() }]
        : []),
    ];
    this.#sequence = new ServiceSequence(parts, (part, err) =>
      logger.error({ event: "shutdown_error", part, err }, "stop failed"),
    );
  }

  get service(): TaskService {
    return this.#started().service;
  }

  get producer(): Producer {
    return this.#started().producer;
  }

  get rest(): RestServer | undefined {
    return this.#rest;
  }

  get grpc(): GrpcServerHandle | undefined {
    return this.#grpc;
  }

  get operatorCount(): number {
    return this.#operatorCount;
  }

  start(): Promise<void> {
    return this.#sequence.start();
  }

  stop(): Promise<void> {
    return this.#sequence.stop();
  }

  /** Producer and TaskService on the backends, and what every transport shares. */
  async #startApi(): Promise<void> {
    const config = this.#config;
    const { broker, writer, tracking } = this.backends;
    const { logger } = this;
    const registry = this.#deps.registry ? { registry: this.#deps.registry } : {};
    const watch = this.#deps.tuning?.watch;
    const presenceIntervalMs = this.#deps.tuning?.presenceIntervalMs;
    // Keys the registry lacks are accepted when a live worker runs them (another task module).
    const live = this.#deps.registry
      ? new LiveFunctions({
          control: broker.control,
          logger,
          ...(presenceIntervalMs !== undefined ? { presenceIntervalMs } : {}),
        })
      : undefined;
    await live?.start();
    const producer = new Producer({
      broker,
      tracking: writer,
      logger,
      maxPayloadBytes: config.maxPayloadBytes,
      // Opened on the first submission with an idempotency or unique key, not before.
      coordination: () => this.backends.coordination(),
      ...registry,
      ...(live ? { otherFunctions: live } : {}),
    });
    const service = new TaskService({
      producer,
      broker,
      tracking,
      // Reads of what this process accepted and has not written yet are answered from the writer.
      unwritten: writer,
      logger,
      ...registry,
      ...(live ? { liveFunctions: live } : {}),
      ...(watch ? { watch } : {}),
    });
    // Schedules live in the coordination store, opened on first use (none → 503 naming it).
    const schedules = new ScheduleService({
      coordination: () => this.backends.coordination(),
      producer,
      tracking,
      maxPayloadBytes: config.maxPayloadBytes,
      ...registry,
      ...(live ? { liveFunctions: live } : {}),
    });
    const auth = await ApiKeyVerifier.load({
      keysFile: path.resolve(config.apiKeysFile),
      plaintextKeys: config.apiKeys,
      logger,
      ...this.#recheck(),
    });
    const rateLimiter =
      this.#deps.rateLimiter ??
      new TokenBucketLimiter({
        ratePerSecond: config.rateLimitPerSecond,
        burst: config.rateLimitBurst,
      });
    this.#api = { live, producer, service, schedules, auth, rateLimiter };
  }

  async #startRest(): Promise<void> {
    const { service, schedules, auth, rateLimiter } = this.#started();
    const config = this.#config;
    const dashboard =
      this.#deps.transports?.dashboard === false ? undefined : await this.#dashboard();
    const { startRestServer } = await import("../api/rest/server.js");
    const where = { transport: "rest", host: config.host, port: config.httpPort } as const;
    this.#rest = await startRestServer({
      service,
      schedules,
      auth,
      rateLimiter,
      ...(dashboard ? { dashboard } : {}),
      host: config.host,
      port: config.httpPort,
      bodyLimitBytes: config.maxBodyBytes,
      logger: this.logger,
    }).catch((error: unknown) => {
      throw asPortInUse(error, where);
    });
  }

  /** The dashboard's operators (the operators file, plus any kept in memory) and sessions. */
  async #dashboard(): Promise<{ auth: DashboardAuth }> {
    const operators = await OperatorDirectory.load({
      file: path.resolve(this.#config.operatorsFile),
      inMemory: this.#deps.operators ?? [],
      logger: this.logger,
      ...this.#recheck(),
    });
    this.#operatorCount = operators.size;
    const { createDashboardAuth } = await import("../api/rest/dashboard-auth.js");
    return { auth: createDashboardAuth(operators, await this.#sessionStore()) };
  }

  /**
   * Dashboard sessions live in the process's coordination store, opened on first use (a store
   * that is down at start costs 503s until it is back, not a failed start). With none configured
   * (GOTASKQ_COORDINATION_URL=none, or a RabbitMQ/SQS broker beside a SQLite tracking store) a
   * single API process still gets a working dashboard, its sessions in its own memory, and the
   * log says that replicas will not share them.
   */
  async #sessionStore(): Promise<CoordinationSource> {
    const { backends, logger } = this;
    if (backends.hasCoordination) return () => backends.coordination();
    logger.warn(
      { event: "dashboard_sessions_in_memory" },
      "no coordination store: dashboard sessions and login limits stay in this process (lost on restart, not shared by API replicas); set GOTASKQ_COORDINATION_URL to share them",
    );
    const memory = await import("../coordination/memory/memory-coordination-store.js");
    return memory.createMemoryCoordinationStore();
  }

  async #startGrpc(): Promise<void> {
    const { service, schedules, auth, rateLimiter } = this.#started();
    const config = this.#config;
    const closeGraceMs = this.#deps.tuning?.grpcCloseGraceMs;
    const { startGrpcServer } = await import("../api/grpc/server.js");
    const where = { transport: "grpc", host: config.host, port: config.grpcPort } as const;
    this.#grpc = await startGrpcServer({
      service,
      schedules,
      auth,
      rateLimiter,
      host: config.host,
      port: config.grpcPort,
      maxMessageBytes: config.maxBodyBytes,
      logger: this.logger,
      ...(closeGraceMs !== undefined ? { closeGraceMs } : {}),
    }).catch((error: unknown) => {
      throw asPortInUse(error, where);
    });
  }

  #recheck(): { recheckIntervalMs?: number } {
    const ms = this.#deps.tuning?.recheckIntervalMs;
    return ms !== undefined ? { recheckIntervalMs: ms } : {};
  }

  #started(): Api {
    if (!this.#api) {
      throw new GoTaskQError("conflict", "the server is not started: await start() first");
    }
    return this.#api;
  }
}
