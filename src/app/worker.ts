import type { GoTaskQConfig } from "../config/config.js";
import { GoTaskQError } from "../core/errors.js";
import { type Part, type Service, ServiceSequence } from "../core/lifecycle.js";
import { createLogger, type Logger } from "../logging/logger.js";
import type { TaskRegistry } from "../tasks/registry.js";
import { Worker } from "../worker/worker.js";
import type { WorkerOptions } from "../worker/worker-options.js";
import { Backends } from "./backends.js";
import { type SchedulerDeps, schedulerPart } from "./scheduler.js";

// The composition root of a worker process: the backends, then a Worker running the registry's
// tasks on them (tracking through the backends' best-effort writer); stopped in reverse, so
// running tasks finish (or are released) before the broker and the tracking store close.

/** Worker options besides the ones the config and the backends give; tests shorten timings. */
export type WorkerTuning = Partial<
  Omit<WorkerOptions, "broker" | "registry" | "tracking" | "logger">
>;

export interface WorkerDeps {
  /** The tasks this worker runs. */
  registry: TaskRegistry;
  /** Default: a pino logger at `config.logLevel`. */
  logger?: Logger;
  /**
   * Backends opened by the caller and shared with other parts; the caller stops them. Default:
   * the worker opens its own from the config's URLs and closes them on stop().
   */
  backends?: Backends;
  tuning?: WorkerTuning;
  /** Also run the scheduler (the CLI does unless --no-scheduler). Default: none. */
  scheduler?: SchedulerDeps;
}

/** A running worker process; `worker` is readable once start() has resolved. */
export interface GoTaskQWorker extends Service {
  readonly logger: Logger;
  readonly backends: Backends;
  readonly worker: Worker;
}

export function createWorkerApp(config: GoTaskQConfig, deps: WorkerDeps): GoTaskQWorker {
  const logger = deps.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  // A busy worker writes SQLite tracking inline: tracking then slows it rather than drop events.
  const backends = deps.backends ?? new Backends(config, { logger, sqliteWriteThread: false });
  const part = workerPart(config, backends, logger, deps.registry, deps.tuning);
  const sequence = new ServiceSequence(
    [
      ...(deps.backends
        ? []
        : [{ name: "backends", start: () => backends.start(), stop: () => backends.stop() }]),
      part,
      ...(deps.scheduler ? [schedulerPart(config, backends, logger, deps.scheduler)] : []),
    ],
    (name, err) => logger.error({ event: "shutdown_error", part: name, err }, "stop failed"),
  );
  return {
    logger,
    backends,
    get worker() {
      return part.worker();
    },
    start: () => sequence.start(),
    stop: () => sequence.stop(),
  };
}

/** The worker as one part of a sequence, created on start (the backends are open by then). */
export function workerPart(
  config: Pick<GoTaskQConfig, "queues" | "concurrency" | "leaseMs" | "shutdownGraceMs">,
  backends: Backends,
  logger: Logger,
  registry: TaskRegistry,
  tuning: WorkerTuning = {},
): Part & { worker(): Worker } {
  let worker: Worker | undefined;
  return {
    name: "worker",
    worker() {
      if (!worker) {
        throw new GoTaskQError("conflict", "the worker is not started: await start() first");
      }
      return worker;
    },
    async start() {
      worker = new Worker({
        queues: config.queues,
        concurrency: config.concurrency,
        leaseMs: config.leaseMs,
        shutdownGraceMs: config.shutdownGraceMs,
        ...tuning,
        broker: backends.broker,
        registry,
        tracking: backends.writer,
        logger,
        // Touched only for tasks that carry a unique key (to release it).
        coordination: () => backends.coordination(),
      });
      await worker.start();
    },
    stop: async () => worker?.stop(),
  };
}
