import type { GoTaskQError } from "../core/errors.js";
import type {
  Broker,
  BrokerLimits,
  ConsumeOptions,
  ControlChannel,
  DeadLetterEntry,
  DeadLetterQueue,
  Delivery,
  OutgoingMessage,
  QueueStats,
  Subscription,
} from "./broker.js";
import {
  checkCommand,
  checkConsume,
  checkListOptions,
  checkOutgoing,
  checkQueueName,
  checkSelector,
} from "./validation.js";

// The rules every adapter's `Broker` shares, written once so they cannot drift apart (what
// guarded-delivery.ts does for deliveries): a closed client rejects every call with its
// `unavailable` error, then the arguments are checked (validation.ts), and only then is the
// backend touched, so a publish is all-or-nothing and every adapter refuses the same inputs with
// the same messages. Failures are rejections, never synchronous throws; the one exception is
// `deadLetters(queue)`, which returns no promise and throws at once on a bad queue name. The
// dead-letter queue and the control channel an adapter returns are guarded the same way. An
// adapter only says how to perform each operation on arguments already checked.

export abstract class GuardedBroker implements Broker {
  abstract readonly kind: string;
  abstract readonly limits: BrokerLimits;
  #control: ControlChannel | undefined;

  /** The error to reject with when the client was closed, else undefined. */
  protected abstract closedError(): GoTaskQError | undefined;
  /** The adapter's own channel; the guard checks commands before they reach it. */
  protected abstract readonly controlChannel: ControlChannel;
  /** `messages` are valid, possibly none. */
  protected abstract performPublish(
    queue: string,
    messages: readonly OutgoingMessage[],
  ): Promise<void>;
  /** `queues` are valid and distinct, `options` in range. */
  protected abstract performConsume(
    queues: readonly string[],
    options: ConsumeOptions,
    onDelivery: (delivery: Delivery) => void,
  ): Promise<Subscription>;
  /** Called with a valid name; list options, selectors and rewritten messages are checked here. */
  protected abstract performDeadLetters(queue: string): DeadLetterQueue;
  protected abstract performStats(queue: string): Promise<QueueStats>;
  protected abstract performQueues(): Promise<string[]>;
  protected abstract performPing(): Promise<void>;
  abstract close(): Promise<void>;

  publish(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    return this.#guard(
      () => checkOutgoing(this.limits, queue, messages),
      () => this.performPublish(queue, messages),
    );
  }

  consume(
    queues: readonly string[],
    options: ConsumeOptions,
    onDelivery: (delivery: Delivery) => void,
  ): Promise<Subscription> {
    return this.#guard(
      () => checkConsume(queues, options),
      () => this.performConsume([...new Set(queues)], options, onDelivery),
    );
  }

  deadLetters(queue: string): DeadLetterQueue {
    checkQueueName(queue);
    const inner = this.performDeadLetters(queue);
    return {
      list: (options) =>
        this.#guard(
          () => checkListOptions(options),
          () => inner.list(options),
        ),
      requeue: (selector, rewrite) =>
        this.#guard(
          () => checkSelector(selector),
          // Each rewritten message is checked as the adapter asks for it, before it sends any.
          () =>
            inner.requeue(selector, (entry: DeadLetterEntry) => {
              const message = rewrite(entry);
              checkOutgoing(this.limits, queue, [message]);
              return message;
            }),
        ),
    };
  }

  get control(): ControlChannel {
    if (!this.#control) {
      const inner = this.controlChannel;
      this.#control = {
        broadcast: (command) =>
          this.#guard(
            () => checkCommand(command),
            () => inner.broadcast(command),
          ),
        subscribe: (handler) => this.#guard(undefined, () => inner.subscribe(handler)),
      };
    }
    return this.#control;
  }

  stats(queue: string): Promise<QueueStats> {
    return this.#guard(
      () => checkQueueName(queue),
      () => this.performStats(queue),
    );
  }

  queues(): Promise<string[]> {
    return this.#guard(undefined, () => this.performQueues());
  }

  ping(): Promise<void> {
    return this.#guard(undefined, () => this.performPing());
  }

  #guard<T>(check: (() => void) | undefined, perform: () => Promise<T>): Promise<T> {
    try {
      const closed = this.closedError();
      if (closed) throw closed;
      check?.();
      return perform();
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
