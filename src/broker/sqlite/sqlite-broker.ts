import path from "node:path";
import type Database from "better-sqlite3";
import { MAX_DELAY_MS } from "../../core/backoff.js";
import { InvalidArgumentError, UnavailableError } from "../../core/errors.js";
import type {
  Broker,
  BrokerLimits,
  ConsumeOptions,
  DeadLetterQueue,
  Delivery,
  OutgoingMessage,
  QueueStats,
  Subscription,
} from "../broker.js";
import { GuardedBroker } from "../guarded-broker.js";
import { DEFAULT_REVOCATION_RETENTION_MS, SqliteControlChannel } from "./control-channel.js";
import { DeadLetterStore } from "./dead-letters.js";
import { SqliteSubscription } from "./delivery.js";
import { toDomainError } from "./errors.js";
import { MessageWriter } from "./publish.js";
import { openDatabase, type SynchronousMode } from "./schema.js";
import { StatsReader } from "./stats.js";
import { WriteLoop } from "./write-loop.js";

// The embedded default broker: a durable single-node broker in one SQLite file (WAL), shared
// safely by any number of processes on one machine — `gotaskq dev`, several workers, the CLI.
// This file wires the pieces and is the error boundary: every SQLite failure leaves here as a
// GoTaskQError (`unavailable`), never as a SqliteError.
//
// - schema.ts: pragmas, durability modes, migrations.      - write-loop.ts: the one writer loop.
// - publish.ts / claim.ts / settle.ts: its statements.       - delivery.ts: subscriptions, deliveries.
// - dead-letters.ts: DLQ list and requeue.                   - control-channel.ts: revocations.
// - stats.ts: counts and the queue list.
//
// Priority mapping: exact. All ten priorities (0–9) are honoured by the ordered index; FIFO by
// publish order within a priority. Delays: exact to the poll interval (never early).
// Lease lost: a settle after another consumer claimed the message matches no row (its lease
// token changed) and rejects with LeaseLostError; release resolves quietly (see broker.ts).

export interface SqliteBrokerOptions {
  /** Broker file; created, with its directory, when missing. */
  path: string;
  /**
   * "normal" (default): a resolved publish or settle survives any process crash;
   * "full": it also survives an OS crash or power loss (fsync per commit; much slower).
   */
  synchronous?: SynchronousMode;
  /** How often an idle consumer looks for other processes' messages and commands (ms). Default 50. */
  pollIntervalMs?: number;
  /** Clock for delays, leases and timestamps (epoch ms). Default `Date.now`. */
  now?: () => number;
  /** How long revocations are replayed to new control subscribers (ms). Default 30 days. */
  revocationRetentionMs?: number;
}

export const SQLITE_LIMITS: BrokerLimits = {
  // SQLite itself takes blobs up to 1 GB; 16 MiB keeps a single task from bloating the WAL while
  // leaving the producer's payload limit (default 1 MiB, configurable) as the one users meet.
  maxMessageBytes: 16 * 1_048_576,
  maxDelayMs: MAX_DELAY_MS,
  priorities: 10,
};

export const DEFAULT_POLL_INTERVAL_MS = 50;

/** The URL schemes `open` understands (backends/open.ts routes them here). */
export const SCHEMES: readonly string[] = ["sqlite:"];

/**
 * Opens the broker a URL names: `sqlite://rel/path.db` is relative to the working directory,
 * `sqlite:///abs/path.db` absolute; `?synchronous=full` survives power loss too (slower).
 */
export function open(url: string): Broker {
  if (!/^sqlite:\/\//i.test(url)) {
    throw new InvalidArgumentError(
      `${url} is not a SQLite broker URL; use e.g. sqlite://.gotaskq/broker.db`,
    );
  }
  const [file = "", query = ""] = url.slice("sqlite://".length).split("?");
  if (file === "") {
    throw new InvalidArgumentError(`${url} names no file; use e.g. sqlite://.gotaskq/broker.db`);
  }
  // Any other value keeps the default ("normal"), as it always has.
  const full = new URLSearchParams(query).get("synchronous") === "full";
  return openSqliteBroker({ path: path.resolve(file), ...(full ? { synchronous: "full" } : {}) });
}

export function openSqliteBroker(options: SqliteBrokerOptions): Broker {
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  if (!Number.isInteger(pollIntervalMs) || pollIntervalMs < 1 || pollIntervalMs > 60_000) {
    throw new InvalidArgumentError(
      `pollIntervalMs must be an integer between 1 and 60000 (got ${pollIntervalMs})`,
    );
  }
  if (
    options.synchronous !== undefined &&
    options.synchronous !== "normal" &&
    options.synchronous !== "full"
  ) {
    throw new InvalidArgumentError(
      `synchronous must be "normal" or "full" (got ${JSON.stringify(options.synchronous)})`,
    );
  }
  let db: Database.Database;
  try {
    db = openDatabase(options.path, options.synchronous ?? "normal");
  } catch (error) {
    throw toDomainError(error, options.path);
  }
  return new SqliteBroker(db, { ...options, pollIntervalMs });
}

class SqliteBroker extends GuardedBroker {
  readonly kind = "sqlite";
  readonly limits = SQLITE_LIMITS;
  private readonly now: () => number;
  private readonly loop: WriteLoop;
  private readonly writer: MessageWriter;
  private readonly deadLetterStore: DeadLetterStore;
  private readonly reader: StatsReader;
  protected readonly controlChannel: SqliteControlChannel;
  private closed = false;

  constructor(
    private readonly db: Database.Database,
    private readonly options: SqliteBrokerOptions & { pollIntervalMs: number },
  ) {
    super();
    this.now = options.now ?? Date.now;
    try {
      this.loop = new WriteLoop(db, options.path, this.now, options.pollIntervalMs);
      this.writer = new MessageWriter(db);
      this.deadLetterStore = new DeadLetterStore(db, this.now);
      this.reader = new StatsReader(db);
      this.controlChannel = new SqliteControlChannel(
        db,
        this.guard,
        this.now,
        options.pollIntervalMs,
        options.revocationRetentionMs ?? DEFAULT_REVOCATION_RETENTION_MS,
      );
    } catch (error) {
      db.close();
      throw toDomainError(error, options.path);
    }
  }

  protected closedError(): UnavailableError | undefined {
    return this.closed
      ? new UnavailableError(`sqlite broker ${this.options.path} is closed`)
      : undefined;
  }

  /** Runs a synchronous SQLite operation on an open broker, translating its errors. */
  private readonly guard = <T>(work: () => T): T => {
    const closed = this.closedError();
    if (closed) throw closed;
    try {
      return work();
    } catch (error) {
      throw toDomainError(error, this.options.path);
    }
  };

  protected async performPublish(
    queue: string,
    messages: readonly OutgoingMessage[],
  ): Promise<void> {
    if (messages.length === 0) return;
    return this.loop.publish(queue, messages);
  }

  protected async performConsume(
    queues: readonly string[],
    options: ConsumeOptions,
    onDelivery: (delivery: Delivery) => void,
  ): Promise<Subscription> {
    this.guard(() => {
      for (const queue of queues) this.writer.noteQueue(queue);
    });
    const subscription = new SqliteSubscription(
      this.loop,
      this.limits,
      queues,
      options,
      onDelivery,
    );
    this.loop.add(subscription);
    return subscription;
  }

  protected performDeadLetters(queue: string): DeadLetterQueue {
    return {
      list: async (options) => this.guard(() => this.deadLetterStore.list(queue, options)),
      requeue: async (selector, rewrite) => {
        const entries = this.guard(() => this.deadLetterStore.requeue(queue, selector, rewrite));
        if (entries.length > 0) this.loop.wake();
        return entries;
      },
    };
  }

  protected async performStats(queue: string): Promise<QueueStats> {
    return this.guard(() => this.reader.stats(queue, this.now()));
  }

  protected async performQueues(): Promise<string[]> {
    return this.guard(() => this.reader.queues());
  }

  protected async performPing(): Promise<void> {
    this.guard(() => this.reader.ping());
  }

  /**
   * Flushes publishes and settles already requested, stops polling and closes the file.
   * Unsettled deliveries keep their leases and come back to any consumer when they expire.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.controlChannel.stop();
    this.loop.stop();
    this.closed = true;
    this.db.close();
  }
}
