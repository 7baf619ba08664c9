import { watchTask } from "../api/task-watch.js";
import type { Broker } from "../broker/broker.js";
import { type GoTaskQConfig, resolveConfig } from "../config/config.js";
import { GoTaskQError } from "../core/errors.js";
import type { Service } from "../core/lifecycle.js";
import { isFinalStatus } from "../core/status.js";
import { createLogger, type Logger } from "../logging/logger.js";
import { Producer } from "../producer/producer.js";
import type { TaskRegistry } from "../tasks/registry.js";
import type { TaskRecord, TrackingStore } from "../tracking/tracking-store.js";
import type { Worker } from "../worker/worker.js";
import { Backends } from "./backends.js";
import { type WorkerTuning, workerPart } from "./worker.js";

// The library's entry point for application code: `connect()` opens the broker, the tracking
// store (behind its best-effort writer) and, lazily, the coordination store, from the same
// configuration the CLI resolves (GOTASKQ_* variables, else the defaults: `.gotaskq/` SQLite
// files in the working directory). So a task submitted from code lands on the queue `gotaskq
// dev`/`worker` consume and is tracked where `gotaskq status`, `list` and the dashboard look.
//
//   const gtq = await connect();
//   const { id } = await gtq.producer.submit({ function_key: "email.send", payload: {…} });
//   const task = await gtq.wait(id);   // its tracked record once SUCCESS, FAILURE or CANCELED
//   await gtq.close();
//
// Like the CLI, and unlike createServer/createWorkerApp (which take a resolved config), it reads
// the environment: it is an entry point, and "same configuration as the CLI" is its purpose.
// `env` and `config` override that for tests and for applications that keep their own settings.

export interface ConnectOptions {
  /** Where the GOTASKQ_* variables are read. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Values over the environment's (the CLI's flags play this role). Default none. */
  config?: Partial<GoTaskQConfig>;
  /**
   * Task definitions: with them `submit` refuses unknown function keys and payloads their schema
   * rejects, and a function's own queue and defaults apply (as the API does with its registry).
   * Default none: any well-formed function key is accepted.
   */
  registry?: TaskRegistry;
  /**
   * Default: pino on stderr (stdout stays the application's), at `GOTASKQ_LOG_LEVEL` when set,
   * else like the CLI: warnings only for submitting, info (task events) for the workers it starts.
   */
  logger?: Logger;
}

export interface WaitOptions {
  /** Give up after this long (ms), rejecting with `deadline_exceeded`. Default: no limit. */
  timeoutMs?: number;
  /** Stops waiting (rejecting with the signal's reason). */
  signal?: AbortSignal;
  /** Between two reads of the tracked record (ms). Default 150. */
  pollMs?: number;
}

/**
 * Open backends, a producer on them and, on demand, workers. `stop()` is `close()`, so that
 * `installSignalHandlers(gtq, gtq.logger)` closes everything on Ctrl+C.
 */
export interface GoTaskQClient extends Service {
  /** The resolved configuration (URLs, queues, concurrency, …). */
  readonly config: GoTaskQConfig;
  readonly logger: Logger;
  /** Submits (one or a batch), cancels and requeues; every submission is tracked. */
  readonly producer: Producer;
  readonly broker: Broker;
  /** The read side of tracking: `get(id)`, `list(query)`, `logs(id)`. */
  readonly tracking: TrackingStore;
  /**
   * Follows a task's tracked status until it is final (SUCCESS, FAILURE or CANCELED) and resolves
   * with its record. Rejects with `not_found` when the id is not tracked within 5 s (a wrong id,
   * or GOTASKQ_TRACKING_URL=none), with `deadline_exceeded` after `timeoutMs`.
   */
  wait(id: string, options?: WaitOptions): Promise<TaskRecord>;
  /**
   * Starts a worker running `registry` on these backends (queues, concurrency and leases from
   * the config; `tuning` overrides them), tracked like `gotaskq worker`. close() stops it first:
   * running tasks finish within the shutdown grace period.
   */
  startWorker(registry: TaskRegistry, tuning?: WorkerTuning): Promise<Worker>;
  /** Stops the workers it started, flushes tracking events, closes the backends. Idempotent. */
  close(): Promise<void>;
}

/** Opens the configured backends (see above); resolves once they are open. */
export async function connect(options: ConnectOptions = {}): Promise<GoTaskQClient> {
  const env = options.env ?? process.env;
  const config = resolveConfig(env, options.config);
  const level = options.config?.logLevel ?? (env.GOTASKQ_LOG_LEVEL || undefined);
  const logger = options.logger ?? createLogger({ level: level ?? "warn", stream: "stderr" });
  const workerLogger = options.logger ?? logger.child({}, { level: level ?? config.logLevel });
  if (config.apiUrl !== undefined) {
    logger.warn(
      { event: "api_url_ignored", api_url: config.apiUrl, broker_url: config.brokerUrl },
      "GOTASKQ_API_URL is set, but connect() does not go through a server: it opens GOTASKQ_BROKER_URL and GOTASKQ_TRACKING_URL itself (point them at the server's backends, or submit over its REST API)",
    );
  }
  // Tracking writes inline: an application submitting from code is not an API server's event loop.
  const backends = new Backends(config, { logger, sqliteWriteThread: false });
  await backends.start();
  return new Client(config, { client: logger, worker: workerLogger }, backends, options.registry);
}

class Client implements GoTaskQClient {
  readonly producer: Producer;
  readonly logger: Logger;
  readonly #workerLogger: Logger;
  readonly #backends: Backends;
  readonly #workers: Array<{ stop(): Promise<void> }> = [];
  #closing: Promise<void> | undefined;

  constructor(
    readonly config: GoTaskQConfig,
    loggers: { client: Logger; worker: Logger },
    backends: Backends,
    registry: TaskRegistry | undefined,
  ) {
    this.logger = loggers.client;
    this.#workerLogger = loggers.worker;
    this.#backends = backends;
    this.producer = new Producer({
      broker: backends.broker,
      tracking: backends.writer,
      logger: loggers.client,
      maxPayloadBytes: config.maxPayloadBytes,
      // Opened on the first submission with an idempotency or unique key, as the server does.
      coordination: () => backends.coordination(),
      ...(registry ? { registry } : {}),
    });
  }

  get broker(): Broker {
    return this.#backends.broker;
  }

  get tracking(): TrackingStore {
    return this.#backends.tracking;
  }

  async wait(id: string, options: WaitOptions = {}): Promise<TaskRecord> {
    const signals = [
      ...(options.signal ? [options.signal] : []),
      ...(options.timeoutMs !== undefined ? [AbortSignal.timeout(options.timeoutMs)] : []),
    ];
    const signal = AbortSignal.any(signals);
    // The PENDING event may still be in the writer's buffer: flush it so the first read finds it.
    await this.#backends.writer.flush();
    let last: TaskRecord | undefined;
    const poll = options.pollMs !== undefined ? { pollMs: options.pollMs } : {};
    for await (const record of watchTask(this.tracking, id, signal, poll)) last = record;
    if (last && isFinalStatus(last.status)) return last;
    if (options.signal?.aborted) throw options.signal.reason;
    throw new GoTaskQError(
      "deadline_exceeded",
      `task ${id} is not final after ${options.timeoutMs} ms (last tracked status: ${last?.status ?? "none"})`,
    );
  }

  async startWorker(registry: TaskRegistry, tuning?: WorkerTuning): Promise<Worker> {
    if (this.#closing) throw new GoTaskQError("conflict", "the client is closed");
    const part = workerPart(this.config, this.#backends, this.#workerLogger, registry, tuning);
    await part.start();
    this.#workers.push(part);
    return part.worker();
  }

  /** Already started by connect(); here so the client is a Service. */
  async start(): Promise<void> {}

  stop(): Promise<void> {
    return this.close();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all(this.#workers.map((w) => w.stop()));
      await this.#backends.stop();
    })();
    return this.#closing;
  }
}
