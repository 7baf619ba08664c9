import type { Broker } from "../../src/broker/broker.js";
import { createMemoryBroker } from "../../src/broker/memory/memory-broker.js";
import { silentLogger } from "../../src/logging/logger.js";
import { Producer } from "../../src/producer/producer.js";
import type { TaskRegistry } from "../../src/tasks/registry.js";
import { Worker } from "../../src/worker/worker.js";
import type { WorkerOptions } from "../../src/worker/worker-options.js";
import { CollectingSink } from "./collecting-sink.js";

// One memory broker, a producer and workers over it, all writing to one collecting sink, with
// short timings. `cleanup()` stops every worker and closes the broker, so no test leaks timers.

export const FAST = {
  leaseMs: 300,
  graceMs: 100,
  shutdownGraceMs: 2_000,
  heartbeatIntervalMs: 50,
  presenceIntervalMs: 50,
  handBackDelayMs: 20,
  timeoutMs: 2_000,
  backoff: { type: "fixed", delay_ms: 10 },
} as const satisfies Partial<WorkerOptions>;

export class WorkerHarness {
  readonly broker: Broker;
  readonly sink = new CollectingSink();
  readonly producer: Producer;
  private readonly workers: Worker[] = [];

  constructor(broker: Broker = createMemoryBroker()) {
    this.broker = broker;
    this.producer = new Producer({ broker, tracking: this.sink, logger: silentLogger() });
  }

  worker(registry: TaskRegistry, options: Partial<WorkerOptions> = {}): Worker {
    const worker = new Worker({
      broker: this.broker,
      registry,
      tracking: this.sink,
      logger: silentLogger(),
      ...FAST,
      ...options,
    });
    this.workers.push(worker);
    return worker;
  }

  async started(registry: TaskRegistry, options: Partial<WorkerOptions> = {}): Promise<Worker> {
    const worker = this.worker(registry, options);
    await worker.start();
    return worker;
  }

  /** Submits and returns the task id. */
  async submit(
    functionKey: string,
    payload: unknown = {},
    extra: Record<string, unknown> = {},
  ): Promise<string> {
    const task = await this.producer.submit({ function_key: functionKey, payload, ...extra });
    return task.id;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
    await this.broker.close();
  }
}

/** A promise with its resolve function outside, to hold a handler until the test lets it go. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
