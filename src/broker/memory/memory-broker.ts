import { MAX_DELAY_MS } from "../../core/backoff.js";
import { UnavailableError } from "../../core/errors.js";
import type {
  Broker,
  BrokerLimits,
  ConsumeOptions,
  ControlChannel,
  ControlCommand,
  DeadLetterQueue,
  Delivery,
  OutgoingMessage,
  QueueStats,
  Subscription,
} from "../broker.js";
import { GuardedBroker } from "../guarded-broker.js";
import { GuardedDelivery, type SettleOp } from "../guarded-delivery.js";
import { invokeCallback } from "../validation.js";
import { type Entry, type MemoryConsumer, MemoryNamespace } from "./memory-namespace.js";

// The in-process broker: for tests and `memory://`, never for production (nothing survives the
// process). It is fully semantic — leases that expire, delays, priorities, prefetch, DLQ, control
// channel with revocation replay — so that the worker, producer and API can be tested on it with
// the same expectations they have of the durable brokers (the conformance suite pins both).
//
// A broker made without a `namespace` owns a private one and closes it (timers included) with
// itself. Pass a shared `createMemoryNamespace()` to let several clients play separate processes
// against one "server"; the namespace is then closed by whoever created it.

export interface MemoryBrokerOptions {
  /** Clock for timestamps (dead-lettered at, revocation retention). Default `Date.now`. */
  now?: () => number;
  /** How long revocations are replayed to new control subscribers (ms). Default 30 days. */
  revocationRetentionMs?: number;
  /** Shared state; when given, `now` and `revocationRetentionMs` come from the namespace. */
  namespace?: MemoryNamespace;
}

export const MEMORY_LIMITS: BrokerLimits = {
  maxMessageBytes: 1_048_576,
  maxDelayMs: MAX_DELAY_MS,
  priorities: 10,
};

export function createMemoryNamespace(
  options: { now?: () => number; revocationRetentionMs?: number } = {},
): MemoryNamespace {
  return new MemoryNamespace(options);
}

export function createMemoryBroker(options: MemoryBrokerOptions = {}): Broker {
  return new MemoryBroker(options);
}

/** The URL schemes `open` understands (backends/open.ts routes them here). */
export const SCHEMES: readonly string[] = ["memory:"];

/** `memory://`: a private in-process broker; nothing survives the process. */
export function open(_url: string): Broker {
  return createMemoryBroker();
}

class MemoryBroker extends GuardedBroker {
  readonly kind = "memory";
  readonly limits = MEMORY_LIMITS;
  protected readonly controlChannel: ControlChannel;
  readonly ns: MemoryNamespace;
  private readonly ownsNamespace: boolean;
  private readonly consumers = new Set<MemorySubscription>();
  private readonly controlUnsubscribes = new Set<() => void>();
  closed = false;

  constructor(options: MemoryBrokerOptions) {
    super();
    this.ownsNamespace = options.namespace === undefined;
    this.ns = options.namespace ?? new MemoryNamespace(options);
    this.controlChannel = {
      broadcast: async (command: ControlCommand) => {
        this.ns.control.broadcast(command);
      },
      subscribe: async (handler: (command: ControlCommand) => void) => {
        const unsubscribe = this.ns.control.subscribe(handler);
        this.controlUnsubscribes.add(unsubscribe);
        return {
          close: async () => {
            unsubscribe();
            this.controlUnsubscribes.delete(unsubscribe);
          },
        };
      },
    };
  }

  isOpen(): boolean {
    return !this.closed && !this.ns.isClosed;
  }

  protected closedError(): UnavailableError | undefined {
    return this.isOpen() ? undefined : new UnavailableError("memory broker is closed");
  }

  protected async performPublish(queue: string, messages: readonly OutgoingMessage[]) {
    this.ns.publish(queue, messages);
  }

  protected async performConsume(
    queues: readonly string[],
    options: ConsumeOptions,
    onDelivery: (delivery: Delivery) => void,
  ): Promise<Subscription> {
    const subscription = new MemorySubscription(this, queues, options, onDelivery);
    this.consumers.add(subscription);
    this.ns.addConsumer(subscription);
    return subscription;
  }

  unsubscribe(subscription: MemorySubscription): void {
    this.consumers.delete(subscription);
    this.ns.removeConsumer(subscription);
  }

  protected performDeadLetters(queue: string): DeadLetterQueue {
    return {
      list: async (options) => this.ns.deadLetters.list(queue, options),
      requeue: async (selector, rewrite) => this.ns.requeueDeadLetters(queue, selector, rewrite),
    };
  }

  protected async performStats(queue: string): Promise<QueueStats> {
    return this.ns.stats(queue);
  }

  protected async performQueues(): Promise<string[]> {
    return this.ns.queueNames();
  }

  protected async performPing(): Promise<void> {}

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const subscription of [...this.consumers]) this.unsubscribe(subscription);
    for (const unsubscribe of this.controlUnsubscribes) unsubscribe();
    this.controlUnsubscribes.clear();
    if (this.ownsNamespace) this.ns.close();
  }
}

class MemorySubscription implements MemoryConsumer, Subscription {
  unsettled = 0;
  private active = true;

  constructor(
    readonly broker: MemoryBroker,
    readonly queues: readonly string[],
    private readonly options: ConsumeOptions,
    private readonly onDelivery: (delivery: Delivery) => void,
  ) {}

  get leaseMs(): number {
    return this.options.leaseMs;
  }

  hasFreeSlot(): boolean {
    return this.active && this.unsettled < this.options.prefetch;
  }

  receive(entry: Entry, token: number): void {
    this.unsettled++;
    invokeCallback(this.onDelivery, new MemoryDelivery(this, entry, token));
  }

  settled(): void {
    this.unsettled--;
    this.broker.ns.wake();
  }

  async close(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.broker.unsubscribe(this);
  }
}

class MemoryDelivery extends GuardedDelivery {
  readonly id: string;
  readonly queue: string;
  readonly body: Uint8Array;
  readonly deliveryCount: number;

  constructor(
    private readonly subscription: MemorySubscription,
    private readonly entry: Entry,
    private readonly token: number,
  ) {
    super(subscription.broker.limits);
    this.id = entry.id;
    this.queue = entry.queue.name;
    this.body = entry.body;
    this.deliveryCount = entry.deliveryCount;
  }

  protected perform(op: SettleOp): Promise<boolean> {
    const ns = this.subscription.broker.ns;
    const { entry, token } = this;
    switch (op.kind) {
      case "ack":
        return Promise.resolve(ns.ack(entry, token));
      case "retry":
        return Promise.resolve(ns.retry(entry, token, op.body, op.delayMs));
      case "deadLetter":
        return Promise.resolve(ns.deadLetter(entry, token, op.reason, op.detail));
      case "release":
        return Promise.resolve(ns.release(entry, token));
      case "extendLease":
        return Promise.resolve(ns.extendLease(entry, token, op.ms));
    }
  }

  protected closedError(): UnavailableError | undefined {
    return this.subscription.broker.isOpen()
      ? undefined
      : new UnavailableError("memory broker is closed");
  }

  protected slotFreed(): void {
    this.subscription.settled();
  }
}
