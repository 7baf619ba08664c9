import type { ScheduleOperations } from "../api/schedule-operations.js";
import type { TaskOperations } from "../api/task-operations.js";
import type { LazyCoordination } from "../app/coordination.js";
import type { Broker } from "../broker/broker.js";
import { type GoTaskQConfig, resolveConfig } from "../config/config.js";
import { createLogger, type Logger } from "../logging/logger.js";
import type { Producer } from "../producer/producer.js";
import type { BestEffortWriter } from "../tracking/best-effort-writer.js";
import type { TrackingStore } from "../tracking/tracking-store.js";

// What one short-lived CLI command (submit, status, cancel, …) opens, lazily (a `status` never
// touches the broker, a `cancel` never touches the tracking store), and closes once on the way
// out. The long-running commands (dev, server, worker) use the composition root in src/app/.
//
// Every module behind a backend, the producer or the REST client is imported when first asked
// for, not with this file: a command pays only for what it opens (see src/cli/main.ts).

/**
 * What the task and schedule commands are handed: the running command's session, created (and
 * this module loaded) on first use, so that defining the commands costs nothing.
 */
export interface CommandSession {
  service(): Promise<TaskOperations>;
  schedules(): Promise<ScheduleOperations>;
}

export class CliSession {
  readonly config: GoTaskQConfig;
  readonly logger: Logger;
  #broker?: Promise<Broker>;
  #tracking?: Promise<TrackingStore>;
  #writer?: Promise<BestEffortWriter>;
  #producer?: Promise<Producer>;
  #coordination?: Promise<LazyCoordination>;
  #service?: Promise<TaskOperations>;

  constructor(flags: Partial<GoTaskQConfig> = {}, options: { logLevel?: string } = {}) {
    this.config = resolveConfig(process.env, flags);
    // One-shot commands keep stdout for their answer (`--json | jq`): logs go to stderr.
    this.logger = createLogger({
      level: options.logLevel ?? this.config.logLevel,
      stream: "stderr",
      format: this.config.logFormat,
    });
  }

  broker(): Promise<Broker> {
    this.#broker ??= import("../backends/open.js").then(({ openBroker }) =>
      openBroker(this.config.brokerUrl, { logger: this.logger }),
    );
    return this.#broker;
  }

  tracking(): Promise<TrackingStore> {
    this.#tracking ??= import("../backends/open.js").then(({ openTracking }) =>
      openTracking(this.config.trackingUrl),
    );
    return this.#tracking;
  }

  /** The best-effort writer in front of the tracking store (started on first use). */
  writer(): Promise<BestEffortWriter> {
    this.#writer ??= (async () => {
      const { BestEffortWriter } = await import("../tracking/best-effort-writer.js");
      const writer = new BestEffortWriter(await this.tracking(), {
        logger: this.logger,
        maxBufferItems: this.config.trackingBufferItems,
      });
      await writer.start();
      return writer;
    })();
    return this.#writer;
  }

  /** The coordination store, opened only when a submission carries an idempotency or unique key. */
  coordination(): Promise<LazyCoordination> {
    this.#coordination ??= import("../app/coordination.js").then(
      ({ effectiveCoordinationUrl, LazyCoordination }) =>
        new LazyCoordination(effectiveCoordinationUrl(this.config), { logger: this.logger }),
    );
    return this.#coordination;
  }

  producer(): Promise<Producer> {
    this.#producer ??= (async () => {
      // Loaded and opened side by side: a one-shot command's time is mostly module loading.
      const [{ Producer }, coordination, broker, writer] = await Promise.all([
        import("../producer/producer.js"),
        this.coordination(),
        this.broker(),
        this.writer(),
      ]);
      return new Producer({
        coordination: () => coordination.store(),
        broker,
        tracking: writer,
        logger: this.logger,
        maxPayloadBytes: this.config.maxPayloadBytes,
      });
    })();
    return this.#producer;
  }

  /**
   * The task commands' operations: with GOTASKQ_API_URL, a REST client of that server; else the
   * same service layer the REST and gRPC transports call, over the local backends.
   */
  service(): Promise<TaskOperations> {
    this.#service ??= (async () => {
      if (this.config.apiUrl !== undefined) return this.restClient();
      const [{ TaskService }, producer, broker, tracking, writer] = await Promise.all([
        import("../api/task-service.js"),
        this.producer(),
        this.broker(),
        this.tracking(),
        this.writer(),
      ]);
      return new TaskService({
        producer,
        broker,
        tracking,
        unwritten: writer,
        logger: this.logger,
      });
    })();
    return this.#service;
  }

  /**
   * The schedule commands' operations: a remote server's /v1/schedules with GOTASKQ_API_URL,
   * else the schedules in the configured coordination store (opened now).
   */
  async schedules(): Promise<ScheduleOperations> {
    const operations = await import("../api/schedule-operations.js");
    if (this.config.apiUrl !== undefined) {
      return operations.remoteScheduleOperations(await this.restClient());
    }
    const { ScheduleService } = await import("../api/schedule-service.js");
    const coordination = await this.coordination();
    return operations.localScheduleOperations(
      new ScheduleService({
        coordination: () => coordination.store(),
        producer: await this.producer(),
        tracking: await this.tracking(),
        maxPayloadBytes: this.config.maxPayloadBytes,
      }),
    );
  }

  async close(): Promise<void> {
    const settled = async <T>(p: Promise<T> | undefined) => p?.catch(() => undefined);
    await (await settled(this.#coordination))?.close().catch(() => undefined);
    await (await settled(this.#writer))?.stop();
    await (await settled(this.#broker))?.close();
    await (await settled(this.#tracking))?.close();
  }

  private async restClient() {
    const { RestTaskClient } = await import("../api/rest/rest-client.js");
    return new RestTaskClient({
      baseUrl: this.config.apiUrl ?? "",
      ...(this.config.apiKey !== undefined ? { apiKey: this.config.apiKey } : {}),
    });
  }
}
