import type { ConfirmChannel, Message, Options } from "amqplib";
import { type GoTaskQError, UnavailableError } from "../../core/errors.js";
import { toDomainError } from "./errors.js";
import type { Link } from "./link.js";
import type { RabbitOptions } from "./options.js";

// Publishing with publisher confirms kept in flight: every message of every concurrent publish
// goes out at once on one confirm channel of the publisher connection, up to WINDOW unconfirmed
// messages (then senders wait for confirms to free the window), and a publish resolves when the
// broker confirmed all of its messages: persisted (delivery mode 2 into durable queues) and routed.
// Each message is `mandatory`: one that no queue takes comes back as basic.return, which RabbitMQ
// sends before its confirm. Returns only happen when a queue was deleted under us, so rather than
// tagging every message to match a return with its publish, a return fails every publish still
// waiting for confirms (they may or may not have been stored: the callers retry), and the
// topology is declared again. A nack, a
// closed channel or no confirm within publishTimeoutMs also fail it, as `unavailable` (the outcome
// of the unconfirmed messages is unknown: the caller retries, delivery is at-least-once).

const WINDOW = 4_096;

export interface Outgoing {
  exchange: string;
  routingKey: string;
  content: Buffer;
  /** Must say `persistent: true, mandatory: true` (every GoTaskQ message is both). */
  options: Options.Publish & { persistent: true; mandatory: true };
}

interface Pending {
  resolve: () => void;
  reject: (error: GoTaskQError) => void;
  remaining: number;
  failed: boolean;
}

export class Publisher {
  private channel: ConfirmChannel | undefined;
  private opening: Promise<ConfirmChannel> | undefined;
  private unconfirmed = 0;
  private windowWaiters: Array<() => void> = [];
  /** Publishes waiting for confirms (a return fails them all, see above). */
  private readonly waiting = new Set<Pending>();

  constructor(
    private readonly link: Link,
    private readonly options: RabbitOptions,
  ) {}

  /** Resolves once the broker confirmed every message; rejects with a GoTaskQError. */
  async send(messages: readonly Outgoing[]): Promise<void> {
    if (messages.length === 0) return;
    let ch: ConfirmChannel;
    try {
      ch = await this.open();
    } catch (error) {
      throw toDomainError(error, this.options.where, "open a publisher channel");
    }
    const done = new Promise<void>((resolve, reject) => {
      const pending: Pending = {
        resolve: () => {
          this.waiting.delete(pending);
          resolve();
        },
        reject: (error) => {
          this.waiting.delete(pending);
          reject(error);
        },
        remaining: messages.length,
        failed: false,
      };
      this.waiting.add(pending);
      void this.sendAll(ch, messages, pending);
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new UnavailableError(
              `RabbitMQ at ${this.options.where} did not confirm a publish within ${this.options.publishTimeoutMs} ms (blocked by a resource alarm, or overloaded); it may or may not have been stored`,
            ),
          ),
        this.options.publishTimeoutMs,
      );
    });
    try {
      await Promise.race([done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async sendAll(
    ch: ConfirmChannel,
    messages: readonly Outgoing[],
    pending: Pending,
  ): Promise<void> {
    // One callback for the whole publish: amqplib calls it once per message, in order.
    const confirmed = (err: unknown) => this.confirmed(err, pending);
    for (const m of messages) {
      if (pending.failed) return;
      while (this.unconfirmed >= WINDOW) {
        await new Promise<void>((resolve) => this.windowWaiters.push(resolve));
      }
      if (pending.failed) return;
      this.unconfirmed++;
      let flushed: boolean;
      try {
        flushed = ch.publish(m.exchange, m.routingKey, m.content, m.options, confirmed);
      } catch (error) {
        // The channel closed under us: its close handler failed the unconfirmed ones already.
        this.unconfirmed--;
        this.fail(pending, toDomainError(error, this.options.where, "publish"));
        return;
      }
      if (!flushed) await this.drained(ch);
    }
  }

  private confirmed(err: unknown, pending: Pending): void {
    this.unconfirmed--;
    if (this.windowWaiters.length > 0) this.windowWaiters.shift()?.();
    if (err) {
      this.fail(
        pending,
        new UnavailableError(
          `RabbitMQ at ${this.options.where} did not store a published message (${err instanceof Error ? err.message : String(err)}); retry later`,
        ),
      );
    } else if (--pending.remaining === 0 && !pending.failed) {
      pending.resolve();
    }
  }

  private fail(pending: Pending, error: GoTaskQError): void {
    if (pending.failed) return;
    pending.failed = true;
    pending.reject(error);
  }

  private drained(ch: ConfirmChannel): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        ch.off("drain", done);
        ch.off("close", done);
        resolve();
      };
      ch.on("drain", done);
      ch.on("close", done);
    });
  }

  private open(): Promise<ConfirmChannel> {
    if (this.channel) return Promise.resolve(this.channel);
    this.opening ??= (async () => {
      const model = await this.link.get();
      const ch = await model.createConfirmChannel();
      // 404: an exchange GoTaskQ declared was deleted on the broker (the channel is closed with
      // it, failing its unconfirmed publishes); declare again on the next use.
      ch.on("error", (error: { code?: unknown }) => {
        if (error?.code === 404) this.onUnroutable?.();
      });
      ch.on("return", (message: Message) => {
        const { exchange, routingKey, replyText } = message.fields as Message["fields"] & {
          replyText?: string;
        };
        const error = new UnavailableError(
          `RabbitMQ at ${this.options.where} could not route a message (${replyText ?? "unroutable"}) to ${exchange || "queue"} ${routingKey}: a queue was deleted on the broker; retry (it is declared again)`,
        );
        for (const pending of [...this.waiting]) this.fail(pending, error);
        this.onUnroutable?.();
      });
      ch.on("close", () => {
        if (this.channel === ch) this.channel = undefined;
        // Confirms of a closed channel never come: amqplib failed their callbacks already.
        for (const waiter of this.windowWaiters.splice(0)) waiter();
      });
      this.channel = ch;
      return ch;
    })().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  /** Called when a message came back unroutable (the topology is declared again). */
  onUnroutable: (() => void) | undefined;

  async close(): Promise<void> {
    const ch = this.channel;
    this.channel = undefined;
    await ch?.close().catch(() => undefined);
  }
}
