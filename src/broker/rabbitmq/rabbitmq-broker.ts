import { MAX_DELAY_MS } from "../../core/backoff.js";
import { UnavailableError } from "../../core/errors.js";
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
import type { RabbitContext } from "./context.js";
import { RabbitControlChannel } from "./control-channel.js";
import { RabbitDeadLetters } from "./dead-letters.js";
import { Link } from "./link.js";
import { workMessage } from "./messages.js";
import { parseRabbitUrl, type RabbitOptions } from "./options.js";
import { Publisher } from "./publisher.js";
import { QueueReader } from "./queue-reader.js";
import { RabbitSubscription } from "./subscription.js";
import { DELAY_BITS, type Names, Topology } from "./topology.js";

// The RabbitMQ broker (AMQP 0-9-1 through amqplib). This file wires the pieces and holds the
// client's lifecycle; each piece says why it is built the way it is:
// - options.ts: the URL and its options.            - link.ts: connections, reconnects, fail-fast.
// - topology.ts: names, declarations, delay ladder.  - publisher.ts: confirms in a window, mandatory.
// - subscription.ts: consume, deliveries, counts.    - ack-batcher.ts: grouped acks per channel.
// - dead-letters.ts + queue-reader.ts: the DLQ.      - control-channel.ts: revocations (a stream).
//
// Priority mapping: classic queues are declared with x-max-priority 9 and the AMQP priority is the
// task priority, so all ten levels are exact among ready messages (FIFO within one). Messages
// already prefetched by a consumer are not reordered. Quorum queues (RabbitMQ 3.10) have no
// priorities: `limits.priorities` is 1 and delivery is FIFO.

export interface RabbitBrokerLimits extends BrokerLimits {
  /** The broker's consumer_timeout: a delivery must be settled within it (see options.ts). */
  maxHoldMs: number;
}

export function openRabbitBroker(url: string): RabbitBroker {
  return new RabbitBroker(parseRabbitUrl(url));
}

/** The URL schemes `open` understands (backends/open.ts routes them here). */
export const SCHEMES: readonly string[] = ["amqp:", "amqps:"];

/** Connects lazily, and again after a loss; the URL's options are listed in options.ts. */
export function open(url: string): Broker {
  return openRabbitBroker(url);
}

export class RabbitBroker extends GuardedBroker {
  readonly kind = "rabbitmq";
  readonly limits: RabbitBrokerLimits;
  private readonly ctx: RabbitContext;
  private readonly publisherLink: Link;
  private readonly consumerLink: Link;
  private readonly topology: Topology;
  private readonly publisher: Publisher;
  private readonly reader: QueueReader;
  protected readonly controlChannel: RabbitControlChannel;
  private readonly subscriptions = new Set<RabbitSubscription>();
  private readonly registered = new Map<string, Promise<void>>();
  private closed = false;

  constructor(readonly options: RabbitOptions) {
    super();
    this.limits = {
      // RabbitMQ takes up to 128 MiB by default, but large messages hurt every queue they pass;
      // the producer's payload limit (1 MiB by default) is the one users meet first.
      maxMessageBytes: 16 * 1_048_576,
      maxDelayMs: Math.min(MAX_DELAY_MS, 2 ** DELAY_BITS - 1),
      priorities: options.queueType === "classic" ? 10 : 1,
      maxHoldMs: options.consumerTimeoutMs,
    };
    this.publisherLink = new Link(options, "publisher");
    this.consumerLink = new Link(options, "consumer");
    this.topology = new Topology(this.publisherLink, options);
    this.publisher = new Publisher(this.publisherLink, options);
    // A message came back unroutable: a queue was deleted on the broker; declare again.
    this.publisher.onUnroutable = () => this.redeclare();
    this.publisherLink.onLost(() => this.topology.forget());
    this.ctx = {
      options,
      limits: this.limits,
      names: this.topology.names,
      topology: this.topology,
      publisher: this.publisher,
      consumerLink: this.consumerLink,
      prepare: (queue) => this.prepare(queue),
      redeclare: () => this.redeclare(),
      closedError: () => this.closedError(),
    };
    this.reader = new QueueReader(this.ctx);
    this.controlChannel = new RabbitControlChannel(this.ctx);
    // Connect the publisher in the background, as a producer or API server starts: the first
    // submission then does not pay for the handshake. A failure here is reported on first use.
    this.publisherLink.get().catch(() => undefined);
  }

  get names(): Names {
    return this.topology.names;
  }

  protected closedError(): UnavailableError | undefined {
    return this.closed
      ? new UnavailableError(`the RabbitMQ broker client (${this.options.where}) is closed`)
      : undefined;
  }

  private redeclare(): void {
    this.topology.forget();
    this.registered.clear();
  }

  /** Declares the queue's objects and records its name in the registry, once per client. */
  private prepare(queue: string): Promise<void> {
    let done = this.registered.get(queue);
    if (!done) {
      done = (async () => {
        await Promise.all([this.topology.ensureQueue(queue), this.topology.ensureRegistry()]);
        await this.publisher.send([
          {
            exchange: "",
            routingKey: this.names.registry,
            content: Buffer.from(queue),
            options: { persistent: true, mandatory: true },
          },
        ]);
      })().catch((error: unknown) => {
        this.registered.delete(queue);
        throw error;
      });
      this.registered.set(queue, done);
    }
    return done;
  }

  protected async performPublish(
    queue: string,
    messages: readonly OutgoingMessage[],
  ): Promise<void> {
    if (messages.length === 0) return;
    await this.prepare(queue);
    const names = this.names;
    const outgoing = new Array(messages.length);
    let delayed = false;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i] as OutgoingMessage;
      if (m.delayMs > 0) delayed = true;
      outgoing[i] = workMessage(names, queue, m);
    }
    if (delayed) await this.topology.ensureLadder(queue);
    await this.publisher.send(outgoing);
  }

  protected async performConsume(
    queues: readonly string[],
    options: ConsumeOptions,
    onDelivery: (delivery: Delivery) => void,
  ): Promise<Subscription> {
    const subscription = new RabbitSubscription(
      this.ctx,
      queues,
      { prefetch: options.prefetch, leaseMs: options.leaseMs },
      onDelivery,
      (s) => this.subscriptions.delete(s),
    );
    this.subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (error) {
      this.subscriptions.delete(subscription);
      await subscription.abort();
      throw error;
    }
    return subscription;
  }

  protected performDeadLetters(queue: string): DeadLetterQueue {
    return new RabbitDeadLetters(this.ctx, this.reader, queue);
  }

  /**
   * Ready, delayed and dead-lettered are the broker's counts (AMQP passive declares). In flight
   * is what this client's subscriptions hold: AMQP does not expose a queue's unacked count (only
   * the management plugin does), so another process's deliveries are not counted here.
   */
  protected async performStats(queue: string): Promise<QueueStats> {
    let inFlight = 0;
    for (const s of this.subscriptions) inFlight += s.heldIn(queue);
    // The ladder exists only once the queue saw a delayed message.
    const ladder = await this.topology.hasLadder(queue);
    const counts = await this.topology
      .withChannel(`read the stats of ${queue}`, async (ch) => {
        const n = this.names;
        const ready = await ch.checkQueue(n.work(queue));
        const dead = await ch.checkQueue(n.deadLetters(queue));
        let delayed = 0;
        for (let k = 0; ladder && k < DELAY_BITS; k++) {
          delayed += (await ch.checkQueue(n.rung(k, queue))).messageCount;
        }
        return { ready: ready.messageCount, delayed, deadLettered: dead.messageCount };
      })
      .catch((error: unknown) => {
        // 404: never declared, so empty.
        if ((error as { cause?: { code?: unknown } }).cause?.code === 404) {
          return { ready: 0, delayed: 0, deadLettered: 0 };
        }
        throw error;
      });
    return {
      queue,
      ready: counts.ready,
      inFlight,
      delayed: counts.delayed,
      deadLettered: counts.deadLettered,
    };
  }

  protected async performQueues(): Promise<string[]> {
    await this.topology.ensureRegistry();
    const names = new Set<string>();
    // Each client records a queue once per process; duplicates are removed as they are read.
    await this.reader.read(this.names.registry, (message) => {
      const name = message.content.toString("utf8");
      if (names.has(name)) return true;
      names.add(name);
      return false;
    });
    return [...names].sort();
  }

  protected async performPing(): Promise<void> {
    await this.publisherLink.get();
  }

  /** Deletes every queue and exchange of this client's prefix (tests; irreversible). */
  async destroy(): Promise<void> {
    const queues = await this.queues();
    await this.topology.destroy(queues);
    this.registered.clear();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.abort()));
    this.subscriptions.clear();
    await this.controlChannel.closeAll();
    await this.publisher.close();
    await Promise.all([this.publisherLink.close(), this.consumerLink.close()]);
  }
}
