import { openBroker, openTracking } from "../backends/open.js";
import type { Broker } from "../broker/broker.js";
import type { GoTaskQConfig } from "../config/config.js";
import { GoTaskQError } from "../core/errors.js";
import type { Service } from "../core/lifecycle.js";
import type { Logger } from "../logging/logger.js";
import { BestEffortWriter } from "../tracking/best-effort-writer.js";
import type { TrackingStore } from "../tracking/tracking-store.js";

// The backends of one process: the broker, the tracking store and the one best-effort writer in
// front of that store. Every producer and worker of the process shares them, so the producer and
// the API read and write the same broker, and the writer's bounded buffer and drop counter are
// the process's. Opened in that order by start(), closed in reverse by stop().

export type BackendsConfig = Pick<
  GoTaskQConfig,
  "brokerUrl" | "trackingUrl" | "trackingBufferItems"
>;

export interface BackendsOptions {
  logger: Logger;
  /**
   * Write a SQLite tracking file from a thread (see `OpenTrackingOptions`): on for an API server
   * alone, off where a worker runs in the process. Default false.
   */
  sqliteWriteThread?: boolean;
  /**
   * An open broker to use instead of opening `brokerUrl` (tests tune its polling). It belongs
   * to the backends from then on: stop() closes it.
   */
  broker?: Broker;
  /** How often the writer flushes, in ms. Default: the writer's own. */
  flushIntervalMs?: number;
}

interface Opened {
  broker: Broker;
  tracking?: TrackingStore;
  writer?: BestEffortWriter;
}

export class Backends implements Service {
  readonly #config: BackendsConfig;
  readonly #options: BackendsOptions;
  #opened: Opened | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(config: BackendsConfig, options: BackendsOptions) {
    this.#config = config;
    this.#options = options;
  }

  get broker(): Broker {
    return this.#ready().broker;
  }

  get tracking(): TrackingStore {
    return this.#ready().tracking;
  }

  /** What producers and workers write tracking events to (never throws into them). */
  get writer(): BestEffortWriter {
    return this.#ready().writer;
  }

  start(): Promise<void> {
    this.#starting ??= this.#open();
    return this.#starting;
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => undefined);
      await this.#close();
    })();
    return this.#stopping;
  }

  async #open(): Promise<void> {
    const { logger } = this.#options;
    const opened: Opened = {
      broker: this.#options.broker ?? (await openBroker(this.#config.brokerUrl, { logger })),
    };
    this.#opened = opened;
    try {
      opened.tracking = await openTracking(this.#config.trackingUrl, {
        sqliteWriteThread: this.#options.sqliteWriteThread ?? false,
      });
      const writer = new BestEffortWriter(opened.tracking, {
        logger,
        maxBufferItems: this.#config.trackingBufferItems,
        ...(this.#options.flushIntervalMs !== undefined
          ? { flushIntervalMs: this.#options.flushIntervalMs }
          : {}),
      });
      await writer.start();
      opened.writer = writer;
    } catch (error) {
      await this.#close().catch(() => undefined);
      throw error;
    }
  }

  async #close(): Promise<void> {
    const opened = this.#opened;
    this.#opened = undefined;
    if (!opened) return;
    const { logger } = this.#options;
    if (opened.writer) {
      await opened.writer.stop();
      // What tracking lost while its store was slow or down (execution lost nothing).
      logger.info(
        { event: "tracking_writer_stats", ...opened.writer.stats() },
        "tracking writer stopped",
      );
    }
    try {
      await opened.tracking?.close();
    } finally {
      await opened.broker.close();
    }
  }

  #ready(): Required<Opened> {
    const opened = this.#opened;
    if (!opened?.tracking || !opened.writer) {
      throw new GoTaskQError(
        "conflict",
        "the backends are not open: await start() before using them",
      );
    }
    return opened as Required<Opened>;
  }
}
