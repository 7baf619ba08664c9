import { RestTaskClient } from "../api/rest/rest-client.js";
import {
  localScheduleOperations,
  remoteScheduleOperations,
  type ScheduleOperations,
} from "../api/schedule-operations.js";
import { ScheduleService } from "../api/schedule-service.js";
import type { TaskOperations } from "../api/task-operations.js";
import { TaskService } from "../api/task-service.js";
import { effectiveCoordinationUrl, LazyCoordination } from "../app/coordination.js";
import { openBroker, openTracking } from "../backends/open.js";
import type { Broker } from "../broker/broker.js";
import { type GoTaskQConfig, resolveConfig } from "../config/config.js";
import { createLogger, type Logger } from "../logging/logger.js";
import { Producer } from "../producer/producer.js";
import { BestEffortWriter } from "../tracking/best-effort-writer.js";
import type { TrackingStore } from "../tracking/tracking-store.js";

// What one short-lived CLI command (submit, status, cancel, …) opens, lazily (a `status` never
// touches the broker, a `cancel` never touches the tracking store), and closes once on the way
// out. The long-running commands (dev, server, worker) use the composition root in src/app/.

export class CliSession {
  readonly config: GoTaskQConfig;
  readonly logger: Logger;
  #broker?: Promise<Broker>;
  #tracking?: Promise<TrackingStore>;
  #writer?: BestEffortWriter;
  #producer?: Producer;
  #coordination?: LazyCoordination;
  #service?: TaskOperations;

  constructor(flags: Partial<GoTaskQConfig> = {}, options: { logLevel?: string } = {}) {
    this.config = resolveConfig(process.env, flags);
    // One-shot commands keep stdout for their answer (`--json | jq`): logs go to stderr.
    this.logger = createLogger({
      level: options.logLevel ?? this.config.logLevel,
      stream: "stderr",
    });
  }

  broker(): Promise<Broker> {
    this.#broker ??= openBroker(this.config.brokerUrl, { logger: this.logger });
    return this.#broker;
  }

  tracking(): Promise<TrackingStore> {
    this.#tracking ??= openTracking(this.config.trackingUrl);
    return this.#tracking;
  }

  /** The best-effort writer in front of the tracking store (started on first use). */
  async writer(): Promise<BestEffortWriter> {
    if (!this.#writer) {
      this.#writer = new BestEffortWriter(await this.tracking(), {
        logger: this.logger,
        maxBufferItems: this.config.trackingBufferItems,
      });
      await this.#writer.start();
    }
    return this.#writer;
  }

  /** The coordination store, opened only when a submission carries an idempotency or unique key. */
  coordination(): LazyCoordination {
    this.#coordination ??= new LazyCoordination(effectiveCoordinationUrl(this.config), {
      logger: this.logger,
    });
    return this.#coordination;
  }

  async producer(): Promise<Producer> {
    const coordination = this.coordination();
    this.#producer ??= new Producer({
      coordination: () => coordination.store(),
      broker: await this.broker(),
      tracking: await this.writer(),
      logger: this.logger,
      maxPayloadBytes: this.config.maxPayloadBytes,
    });
    return this.#producer;
  }

  /**
   * The task commands' operations: with GOTASKQ_API_URL, a REST client of that server; else the
   * same service layer the REST and gRPC transports call, over the local backends.
   */
  async service(): Promise<TaskOperations> {
    if (this.config.apiUrl !== undefined) {
      this.#service ??= new RestTaskClient({
        baseUrl: this.config.apiUrl,
        ...(this.config.apiKey !== undefined ? { apiKey: this.config.apiKey } : {}),
      });
      return this.#service;
    }
    this.#service ??= new TaskService({
      producer: await this.producer(),
      broker: await this.broker(),
      tracking: await this.tracking(),
      logger: this.logger,
    });
    return this.#service;
  }

  /**
   * The schedule commands' operations: a remote server's /v1/schedules with GOTASKQ_API_URL,
   * else the schedules in the configured coordination store (opened now).
   */
  async schedules(): Promise<ScheduleOperations> {
    if (this.config.apiUrl !== undefined) {
      return remoteScheduleOperations(
        new RestTaskClient({
          baseUrl: this.config.apiUrl,
          ...(this.config.apiKey !== undefined ? { apiKey: this.config.apiKey } : {}),
        }),
      );
    }
    const coordination = this.coordination();
    return localScheduleOperations(
      new ScheduleService({
        coordination: () => coordination.store(),
        producer: await this.producer(),
        tracking: await this.tracking(),
        maxPayloadBytes: this.config.maxPayloadBytes,
      }),
    );
  }

  async close(): Promise<void> {
    await this.#coordination?.close().catch(() => undefined);
    await this.#writer?.stop();
    if (this.#broker) await (await this.#broker.catch(() => undefined))?.close();
    if (this.#tracking) await (await this.#tracking.catch(() => undefined))?.close();
  }
}
