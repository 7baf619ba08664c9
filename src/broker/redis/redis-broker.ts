import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { MAX_DELAY_MS } from "../../core/backoff.js";
import { type GoTaskQError, InvalidArgumentError, UnavailableError } from "../../core/errors.js";
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
import {
  type ConnectionSettings,
  createConnection,
  type RedisClient,
  redactUrl,
  type ScriptCaller,
  scripts,
  toDomainError,
  whenReady,
} from "./connection.js";
import { DEFAULT_REVOCATION_RETENTION_MS, RedisControlChannel } from "./control-channel.js";
import { RedisDeadLetters } from "./dead-letters.js";
import { checkDurability } from "./durability-check.js";
import { GlobalKeys, GROUP, QueueKeys } from "./keys.js";
import { Publisher } from "./publisher.js";
import { SettleBatcher } from "./settle-batcher.js";
import { RedisSubscription } from "./subscription.js";

// The Redis Streams broker (`redis://` / `rediss://`), on ioredis. This file wires the pieces
// and is the error boundary: every Redis failure leaves here as a GoTaskQError.
//
// - keys.ts: key layout and Cluster hash tags.   - scripts.ts: the Lua scripts (one per state change).
// - publisher.ts: coalesced publish.             - subscription.ts: fetch loop and leases.
// - delivery.ts: a delivery and its settles.     - settle-batcher.ts: settles grouped per tick.
// - dead-letters.ts: DLQ list and requeue.        - control-channel.ts: revocations.
// - connection.ts: outage behaviour, errors, Cluster. - durability-check.ts: start-up warnings.
//
// Priority mapping: exact per fetch. One stream per priority (ten lanes), read from 9 down to 0
// by one script, FIFO within a lane. Messages whose lease expired are redelivered ahead of
// waiting ones (they are older). A released message goes to the back of its lane.
// Delays: a sorted set per queue; due messages move to their lane inside the take script; an
// idle consumer sleeps exactly until the earliest one is due (a delayed publish wakes it).
// Leases: a pending entry's idle time is its lease clock (see subscription.ts); every consumer
// of a queue should use the same leaseMs (the worker option), because a consumer reclaims what
// has been idle longer than its own lease. extendLease(ms) gives at most one lease from now.
// Lease lost: every settle checks, in its script, that the pending entry still belongs to this
// consumer with the same delivery counter; otherwise it changes nothing (LeaseLostError).
// A settle whose reply was lost with the connection is sent again once Redis is back (up to
// 30 s), and counts as done when its entry is gone by then (settle-batcher.ts).

export interface RedisBrokerOptions {
  /** redis://[user:password@]host[:port][/db] or rediss:// (TLS). */
  url: string;
  /** Prefix of every key and channel (default "gotaskq"); lets several deployments share a server. */
  prefix?: string;
  /** `url` names one node of a Redis Cluster (default false: a single Redis or primary). */
  cluster?: boolean;
  /** A command without reply fails with `unavailable` after this long (ms). Default 10 000. */
  commandTimeoutMs?: number;
  /** How long the first command waits for the initial connection (ms). Default 3 000. */
  connectTimeoutMs?: number;
  /** How long revocations are replayed to new control subscribers (ms). Default 7 days. */
  revocationRetentionMs?: number;
  /** Where start-up warnings and outage notices go. Default console.warn. */
  warn?: (message: string) => void;
}

export const REDIS_LIMITS: BrokerLimits = {
  // Redis takes values up to 512 MB; 16 MiB keeps one task from stalling the server (a script
  // runs alone) while leaving the producer's payload limit (default 1 MiB) as the one users meet.
  maxMessageBytes: 16 * 1_048_576,
  maxDelayMs: MAX_DELAY_MS,
  priorities: 10,
};

const PREFIX_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Options from a broker URL: `redis://host:6379/0?prefix=myapp`, `redis://node1:7000?cluster=true`
 * (these two parameters are ours, not ioredis').
 */
export function redisBrokerOptionsFromUrl(url: string): RedisBrokerOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError(
      `${redactUrl(url)} is not a valid Redis URL; use e.g. redis://127.0.0.1:6379`,
    );
  }
  const prefix = parsed.searchParams.get("prefix");
  const cluster = parsed.searchParams.get("cluster");
  if (cluster !== null && cluster !== "true" && cluster !== "false") {
    throw new InvalidArgumentError(
      `cluster must be true or false (got ${JSON.stringify(cluster)})`,
    );
  }
  parsed.searchParams.delete("prefix");
  parsed.searchParams.delete("cluster");
  return {
    url: parsed.toString(),
    ...(prefix !== null ? { prefix } : {}),
    ...(cluster === "true" ? { cluster: true } : {}),
  };
}

/** The URL schemes `open` understands (backends/open.ts routes them here). */
export const SCHEMES: readonly string[] = ["redis:", "rediss:"];

/**
 * `redis://[user:password@]host[:port][/db][?prefix=gotaskq][&cluster=true]`, `rediss://` for
 * TLS; `warn` receives the start-up durability checks and outage notices.
 */
export function open(url: string, options: { warn?: (message: string) => void } = {}): Broker {
  return openRedisBroker({
    ...redisBrokerOptionsFromUrl(url),
    ...(options.warn ? { warn: options.warn } : {}),
  });
}

export function openRedisBroker(options: RedisBrokerOptions): Broker {
  const prefix = options.prefix ?? "gotaskq";
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new InvalidArgumentError(
      `Redis key prefix must match ${PREFIX_PATTERN} (got ${JSON.stringify(prefix)}); braces are reserved for the queue's Cluster hash tag`,
    );
  }
  return new RedisBroker(options, prefix);
}

class RedisBroker extends GuardedBroker {
  readonly kind = "redis";
  readonly limits = REDIS_LIMITS;
  private readonly settings: ConnectionSettings;
  private readonly where: string;
  private readonly redis: RedisClient;
  private readonly scripts: ScriptCaller;
  private readonly global: GlobalKeys;
  private readonly queueKeys = new Map<string, QueueKeys>();
  private readonly publisher: Publisher;
  private readonly settler: SettleBatcher;
  protected readonly controlChannel: RedisControlChannel;
  private readonly subscriptions = new Set<RedisSubscription>();
  private readonly nonce = randomBytes(6).toString("base64url");
  private readonly warn: (message: string) => void;
  private everReady = false;
  private subscriptionCount = 0;
  private nonces = 0;
  private closed = false;

  constructor(
    options: RedisBrokerOptions,
    private readonly prefix: string,
  ) {
    super();
    this.settings = {
      url: options.url,
      cluster: options.cluster ?? false,
      commandTimeoutMs: options.commandTimeoutMs ?? 10_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 3_000,
    };
    this.where = `redis broker ${redactUrl(options.url)}`;
    this.warn = options.warn ?? ((message) => console.warn(`[gotaskq] ${message}`));
    this.redis = createConnection(this.settings);
    this.redis.on("ready", () => {
      if (this.everReady) return;
      this.everReady = true;
      void checkDurability(this.redis, this.where, this.warn);
    });
    this.redis.connect().catch(() => {});
    this.scripts = scripts(this.redis);
    this.global = new GlobalKeys(prefix);
    this.publisher = new Publisher(this.redis, this.scripts, this.keysFor, this.global, this.nonce);
    this.settler = new SettleBatcher({
      scripts: this.scripts,
      keysFor: this.keysFor,
      nonce: this.nonce,
      translate: (error) => toDomainError(error, this.where),
      whenOnline: (timeoutMs, signal) => whenReady(this.redis, timeoutMs, this.where, signal),
    });
    this.controlChannel = new RedisControlChannel(
      this.redis,
      this.openSubscriber,
      this.global,
      options.revocationRetentionMs ?? DEFAULT_REVOCATION_RETENTION_MS,
      this.guard,
    );
  }

  private readonly keysFor = (queue: string): QueueKeys => {
    let keys = this.queueKeys.get(queue);
    if (!keys) {
      keys = new QueueKeys(this.prefix, queue);
      this.queueKeys.set(queue, keys);
    }
    return keys;
  };

  protected closedError(): GoTaskQError | undefined {
    return this.closed ? new UnavailableError(`${this.where} is closed`) : undefined;
  }

  /**
   * Runs an operation on a connected client and translates its errors. While Redis is away it
   * fails at once (after the first connection; before it, it waits connectTimeoutMs).
   */
  private readonly guard = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      if (this.redis.status !== "ready") {
        if (this.everReady) {
          throw new UnavailableError(
            `${this.where} is not reachable (connection ${this.redis.status}); retry when Redis is back`,
          );
        }
        await whenReady(this.redis, this.settings.connectTimeoutMs, this.where);
      }
      return await work();
    } catch (error) {
      throw toDomainError(error, this.where);
    }
  };

  private readonly openSubscriber = async (): Promise<RedisClient> => {
    const connection = createConnection(this.settings, {
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
    });
    try {
      await whenReady(connection, this.settings.connectTimeoutMs, this.where);
    } catch (error) {
      connection.disconnect();
      throw error;
    }
    return connection;
  };

  protected performPublish(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    return this.guard(async () => {
      if (messages.length === 0) return;
      await this.publisher.publish(queue, messages);
    });
  }

  protected performConsume(
    queues: readonly string[],
    options: ConsumeOptions,
    onDelivery: (delivery: Delivery) => void,
  ): Promise<Subscription> {
    return this.guard(async () => {
      await Promise.all(queues.map((queue) => this.publisher.register(queue)));
      const consumer = `${hostname()}:${process.pid}:${this.nonce}:${this.subscriptionCount++}`;
      const subscription = new RedisSubscription(
        {
          scripts: this.scripts,
          keysFor: this.keysFor,
          settler: this.settler,
          limits: this.limits,
          cluster: this.settings.cluster,
          openBlocker: () => {
            const blocker = createConnection(this.settings, {
              // Blocking reads last up to 2 s; the timeout only catches a dead connection.
              commandTimeout: this.settings.commandTimeoutMs + 5_000,
            });
            blocker.connect().catch(() => {});
            return blocker;
          },
          closedError: () => this.closedError(),
          report: (message) => this.warn(`${this.where}: ${message}`),
        },
        queues,
        options,
        onDelivery,
        consumer,
      );
      this.subscriptions.add(subscription);
      return {
        close: async () => {
          this.subscriptions.delete(subscription);
          await subscription.close();
        },
      };
    });
  }

  protected performDeadLetters(queue: string): DeadLetterQueue {
    return new RedisDeadLetters(
      this.redis,
      this.scripts,
      this.keysFor(queue),
      () => `${this.nonce}.r${this.nonces++}.`,
      this.guard,
    );
  }

  protected performStats(queue: string): Promise<QueueStats> {
    return this.guard(async () => {
      const [ready, inFlight, delayed, deadLettered] = (await this.scripts.gtqStatsBuffer(
        this.keysFor(queue).all,
        GROUP,
      )) as number[];
      return {
        queue,
        ready: ready ?? 0,
        inFlight: inFlight ?? 0,
        delayed: delayed ?? 0,
        deadLettered: deadLettered ?? 0,
      };
    });
  }

  protected performQueues(): Promise<string[]> {
    return this.guard(async () => (await this.redis.smembers(this.global.queues)).sort());
  }

  protected performPing(): Promise<void> {
    return this.guard(async () => {
      await this.redis.ping();
    });
  }

  /**
   * Stops fetching, sends the settles already requested, and disconnects. Unsettled deliveries
   * keep their entries pending; they come back to any consumer once their lease expires.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    const subscriptions = [...this.subscriptions];
    this.subscriptions.clear();
    await Promise.allSettled(subscriptions.map((s) => s.close()));
    await this.settler.drain();
    this.closed = true;
    this.controlChannel.stop();
    if (this.redis.status === "ready") {
      await Promise.race([
        this.redis.quit().catch(() => {}),
        new Promise((resolve) => setTimeout(resolve, 1_000).unref()),
      ]);
    }
    this.redis.disconnect();
  }
}
