import path from "node:path";
import { ApiKeyVerifier } from "../api/auth/api-keys.js";
import { type GrpcServerHandle, startGrpcServer } from "../api/grpc/server.js";
import { OperatorDirectory } from "../api/operators/operator-directory.js";
import type { OperatorRole } from "../api/operators/operators-file.js";
import { TokenBucketLimiter } from "../api/rate-limiter.js";
import { createDashboardAuth } from "../api/rest/dashboard-auth.js";
import { type RestServer, startRestServer } from "../api/rest/server.js";
import { TaskService } from "../api/task-service.js";
import type { WatchOptions } from "../api/task-watch.js";
import type { GoTaskQConfig } from "../config/config.js";
import { GoTaskQError } from "../core/errors.js";
import { type Part, type Service, ServiceSequence } from "../core/lifecycle.js";
import { createLogger, type Logger } from "../logging/logger.js";
import { Producer } from "../producer/producer.js";
import type { TaskRegistry } from "../tasks/registry.js";
import { Backends } from "./backends.js";
import { type WorkerTuning, workerPart } from "./worker.js";

// The composition root of an API process: REST (with the dashboard) and gRPC over one
// TaskService and one Producer, both on the same backends (broker, tracking store, best-effort
// writer), so that what the API submits and what it reads are the same queue and the same
// records, and with the same registry, so that both refuse the same unknown keys. Every
// transport shares one API key verifier and one rate limiter (a key's budget is one budget
// whichever protocol it uses). Optionally a worker runs in the same process (`gotaskq dev`).
//
// Parts start in order: backends → worker → REST → gRPC, and stop in reverse, so requests stop
// first, running tasks finish next, and the backends close last. Config arrives resolved: the
// CLI reads the environment, this module never does.

export interface InMemoryOperator {
  name: string;
  role: OperatorRole;
  password: string;
}

export interface ServerDeps {
  /** Default: a pino logger at `config.logLevel`. */
  logger?: Logger;
  /** Task definitions: with them the API refuses unknown function keys and invalid payloads (422). */
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
  producer: Producer;
  service: TaskService;
  auth: ApiKeyVerifier;
  rateLimiter: TokenBucketLimiter;
}

export function createServer(config: GoTaskQConfig, deps: ServerDeps = {}): GoTaskQServer {
  const logger = deps.logger ?? createLogger({ level: config.logLevel });
  const tuning = deps.tuning ?? {};
  const transports = { rest: true, dashboard: true, grpc: true, ...deps.transports };
  const backends =
    deps.backends ??
    new Backends(config, {
      logger,
      // The API alone: its event loop serves requests, so SQLite tracking writes go to a thread.
      sqliteWriteThread: deps.sqliteWriteThread ?? deps.worker === undefined,
    });
  const registry = deps.registry ? { registry: deps.registry } : {};
  const recheck =
    tuning.recheckIntervalMs !== undefined ? { recheckIntervalMs: tuning.recheckIntervalMs } : {};

  let api: Api | undefined;
  let rest: RestServer | undefined;
  let grpc: GrpcServerHandle | undefined;
  let operatorCount = 0;
  const started = (): Api => {
    if (!api) throw new GoTaskQError("conflict", "the server is not started: await start() first");
    return api;
  };

  const apiPart: Part = {
    name: "api",
    async start() {
      const producer = new Producer({
        broker: backends.broker,
        tracking: backends.writer,
        logger,
        maxPayloadBytes: config.maxPayloadBytes,
        ...registry,
      });
      const service = new TaskService({
        producer,
        broker: backends.broker,
        tracking: backends.tracking,
        logger,
        ...registry,
        ...(tuning.watch ? { watch: tuning.watch } : {}),
      });
      const auth = await ApiKeyVerifier.load({
        keysFile: path.resolve(config.apiKeysFile),
        plaintextKeys: config.apiKeys,
        logger,
        ...recheck,
      });
      const rateLimiter =
        deps.rateLimiter ??
        new TokenBucketLimiter({
          ratePerSecond: config.rateLimitPerSecond,
          burst: config.rateLimitBurst,
        });
      api = { producer, service, auth, rateLimiter };
    },
    async stop() {},
  };

  const restPart: Part = {
    name: "rest",
    async start() {
      const { service, auth, rateLimiter } = started();
      let dashboard: Parameters<typeof startRestServer>[0]["dashboard"];
      if (transports.dashboard) {
        const operators = await OperatorDirectory.load({
          file: path.resolve(config.operatorsFile),
          inMemory: deps.operators ?? [],
          logger,
          ...recheck,
        });
        operatorCount = operators.size;
        dashboard = { auth: createDashboardAuth(operators) };
      }
      rest = await startRestServer({
        service,
        auth,
        rateLimiter,
        ...(dashboard ? { dashboard } : {}),
        host: config.host,
        port: config.httpPort,
        bodyLimitBytes: config.maxBodyBytes,
        logger,
      });
    },
    stop: async () => rest?.close(),
  };

  const grpcPart: Part = {
    name: "grpc",
    async start() {
      const { service, auth, rateLimiter } = started();
      grpc = await startGrpcServer({
        service,
        auth,
        rateLimiter,
        host: config.host,
        port: config.grpcPort,
        maxMessageBytes: config.maxBodyBytes,
        logger,
        ...(tuning.grpcCloseGraceMs !== undefined ? { closeGraceMs: tuning.grpcCloseGraceMs } : {}),
      });
    },
    stop: async () => grpc?.close(),
  };

  const parts: Part[] = [
    ...(deps.backends ? [] : [{ name: "backends", ...bind(backends) }]),
    ...(deps.worker
      ? [workerPart(config, backends, logger, deps.worker.registry, deps.worker.tuning)]
      : []),
    apiPart,
    ...(transports.rest ? [restPart] : []),
    ...(transports.grpc ? [grpcPart] : []),
  ];
  const sequence = new ServiceSequence(parts, (part, err) =>
    logger.error({ event: "shutdown_error", part, err }, "stop failed"),
  );

  return {
    logger,
    backends,
    get service() {
      return started().service;
    },
    get producer() {
      return started().producer;
    },
    get rest() {
      return rest;
    },
    get grpc() {
      return grpc;
    },
    get operatorCount() {
      return operatorCount;
    },
    start: () => sequence.start(),
    stop: () => sequence.stop(),
  };
}

/** A service's start and stop as functions that keep their `this`. */
export function bind(service: Service): Service {
  return { start: () => service.start(), stop: () => service.stop() };
}
