import { openBroker, openTracking } from "../backends/open.js";
import type { Broker } from "../broker/broker.js";
import type { GoTaskQConfig } from "../config/config.js";
import type { CoordinationStore } from "../coordination/coordination-store.js";
import { GoTaskQError } from "../core/errors.js";
import type { Service } from "../core/lifecycle.js";
import type { Logger } from "../logging/logger.js";
import { BestEffortWriter } from "../tracking/best-effort-writer.js";
import type { TrackingStore } from "../tracking/tracking-store.js";
import {
  type CoordinationOpener,
  effectiveCoordinationUrl,
  LazyCoordination,
} from "./coordination.js";

// The backends of one process: the broker, the tracking store and the one best-effort writer in
// front of that store. Every producer and worker of the process shares them, so the producer and
// the API read and write the same broker, and the writer's bounded buffer and drop counter are
// the process's. Opened in that order by start(), closed in reverse by stop(). The coordination
// store is the exception: start() only checks its URL, and it opens on the first coordination()
// call (a process whose tasks need no coordination never connects); stop() closes it first.

export type BackendsConfig = Pick<
  GoTaskQConfig,
  "brokerUrl" | "trackingUrl" | "trackingBufferItems"
> &
  Partial<Pick<GoTaskQConfig, "coordinationUrl">>;

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
  /**
   * An open coordination store to use instead of opening `coordinationUrl` (tests); stop()
   * closes it. Or `open`: how to open the configured URL (default src/coordination/open.ts).
   */
  coordination?: CoordinationStore | { open: CoordinationOpener };
}

interface Opened {
  broker: Broker;
  coordination: LazyCoordination;
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

  /**
   * The process's coordination store, opened on the first call and shared by every caller.
   * Rejects with `unavailable` naming GOTASKQ_COORDINATION_URL when none is configured, or when
   * the store cannot be reached (a later call tries again).
   */
  coordination(): Promise<CoordinationStore> {
    try {
      return this.#ready().coordination.store();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Whether a coordination store is configured (it may not be open yet). */
  get hasCoordination(): boolean {
    return this.#ready().coordination.configured;
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
    // Before anything opens: an unknown coordination scheme fails start-up, naming the variable.
    const coordination = this.#coordination();
    const opened: Opened = {
      broker: this.#options.broker ?? (await openBroker(this.#config.brokerUrl, { logger })),
      coordination,
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
    await opened.coordination.close().catch((err: unknown) => {
      logger.warn({ event: "coordination_close_failed", err }, "coordination store close failed");
    });
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

  #coordination(): LazyCoordination {
    const { logger, coordination } = this.#options;
    if (coordination && "kind" in coordination) return LazyCoordination.of(coordination, logger);
    const url = effectiveCoordinationUrl({
      coordinationUrl: this.#config.coordinationUrl,
      brokerUrl: this.#config.brokerUrl,
      trackingUrl: this.#config.trackingUrl,
    });
    return new LazyCoordination(url, {
      logger,
      ...(coordination ? { open: coordination.open } : {}),
    });
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
