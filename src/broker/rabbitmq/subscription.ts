import type { Channel, ConsumeMessage } from "amqplib";
import type { GoTaskQError } from "../../core/errors.js";
import type { ConsumeOptions, Delivery, Subscription } from "../broker.js";
import { GuardedDelivery, type SettleOp } from "../guarded-delivery.js";
import { invokeCallback } from "../validation.js";
import { AckBatcher } from "./ack-batcher.js";
import type { RabbitContext } from "./context.js";
import { toDomainError } from "./errors.js";
import { deadLetterMessage, numberHeader, RETURNS_HEADER, workMessage } from "./messages.js";

// A subscription: one channel on the consumer connection with manual acks and prefetch = the
// subscription's bound, consuming each of its work queues. It survives the loss of its channel or
// connection by itself: the deliveries of the dead channel are written off (their settles are
// dropped and never sent on a new channel: RabbitMQ already requeued those messages), and a new
// channel resubscribes with backoff, until `close`.
//
// Leases: RabbitMQ has no per-message lease. A delivery stays with its consumer while the
// consumer's channel lives (bounded by the broker's consumer_timeout) and comes back at once when
// the channel or connection dies. So `leaseMs` is not used, `extendLease` only checks that the
// channel still lives, and a settle rejects with LeaseLostError exactly when the channel died
// (the message went back to the queue and may be with another consumer).
//
// Delivery counts: quorum queues count deliveries themselves (x-delivery-count). Classic queues
// only flag a redelivery, so a redelivered message is re-published with x-gotaskq-returns + 1
// (confirmed) and then acked, and the copy arrives with the exact count; a task that kills its
// worker every time therefore reaches the worker's poison limit instead of looping forever.

const REATTACH_MIN_MS = 100;
const REATTACH_MAX_MS = 5_000;

interface Attachment {
  channel: Channel;
  batcher: AckBatcher;
  /** Deliveries of this channel not yet settled (including ones being re-published). */
  outstanding: number;
  /** Deliveries handed to the callback and not yet settled (for stats). */
  readonly live: Set<RabbitDelivery>;
  qos: number;
  /** Classic queues: whether `qos` bounds the whole channel (else each consumer, see attach). */
  readonly channelWide: boolean;
  tags: string[];
}

export class RabbitSubscription implements Subscription {
  private current: Attachment | undefined;
  /** Unsettled deliveries of dead channels: they still take prefetch slots of the worker. */
  private stale = 0;
  private closing = false;
  private reattachTimer: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(
    private readonly ctx: RabbitContext,
    private readonly queues: readonly string[],
    private readonly consume: ConsumeOptions,
    private readonly onDelivery: (delivery: Delivery) => void,
    private readonly forget: (subscription: RabbitSubscription) => void,
  ) {}

  /** Attaches the first time; rejects (with nothing left open) if that fails. */
  async start(): Promise<void> {
    await this.attach();
  }

  private get quorum(): boolean {
    return this.ctx.options.queueType === "quorum";
  }

  private async attach(): Promise<void> {
    const { ctx } = this;
    let channel: Channel | undefined;
    try {
      for (const queue of this.queues) await ctx.prepare(queue);
      const model = await ctx.consumerLink.get();
      channel = await model.createChannel();
      channel.on("error", () => undefined);
      const att: Attachment = {
        channel,
        batcher: new AckBatcher(channel),
        outstanding: 0,
        live: new Set(),
        qos: this.consume.prefetch - this.stale,
        // A per-consumer prefetch costs RabbitMQ less per delivery than a channel-wide one (the
        // queue counts credit itself instead of asking the channel's limiter), but it cannot be
        // raised for a running consumer. So it is used when one classic queue is consumed with
        // the full bound; several queues, or a bound lowered by stale deliveries of a lost
        // channel (raised as they settle), take the channel-wide one.
        channelWide: this.queues.length > 1 || this.stale > 0,
        tags: [],
      };
      channel.on("close", () => this.lost(att));
      if (this.quorum) {
        // Quorum queues do not support a channel-wide prefetch: the bound is split per queue.
        await channel.prefetch(Math.max(1, Math.floor(att.qos / this.queues.length)), false);
      } else if (att.channelWide) {
        await channel.prefetch(att.qos, true);
      } else {
        await channel.prefetch(att.qos, false);
      }
      if (this.closing) throw ctx.closedError() ?? new Error("subscription closed");
      this.current = att;
      for (const queue of this.queues) {
        const reply = await channel.consume(
          ctx.names.work(queue),
          (message) => this.arrived(att, queue, message),
          { noAck: false },
        );
        att.tags.push(reply.consumerTag);
      }
      this.failures = 0;
    } catch (error) {
      // Closing the channel runs `lost`, which writes off what it delivered and retries later.
      await channel?.close().catch(() => undefined);
      // 404: a queue was deleted on the broker; declare everything again on the next attempt.
      if ((error as { code?: unknown }).code === 404) ctx.redeclare();
      throw toDomainError(error, ctx.options.where, `consume ${this.queues.join(", ")}`);
    }
  }

  private arrived(att: Attachment, queue: string, message: ConsumeMessage | null): void {
    // amqplib turns an exception thrown here into a connection error: nothing may escape.
    try {
      if (message === null) {
        // The broker cancelled the consumer (queue deleted): declare again, on a fresh channel.
        this.ctx.redeclare();
        void att.channel.close().catch(() => undefined);
        return;
      }
      // Sent before our cancel reached the broker: not handed over (the subscription is
      // closed); it goes back to the queue when the channel closes.
      if (this.closing) return;
      att.outstanding++;
      const returns = numberHeader(message.properties.headers, RETURNS_HEADER);
      if (message.fields.redelivered && !this.quorum) {
        this.recount(att, queue, message, returns);
        return;
      }
      const count =
        returns +
        1 +
        (this.quorum ? numberHeader(message.properties.headers, "x-delivery-count") : 0);
      this.handOver(att, queue, message, count);
    } catch {
      // Unreachable in practice; the message stays unacked and comes back with the channel.
    }
  }

  private handOver(att: Attachment, queue: string, message: ConsumeMessage, count: number): void {
    const delivery = new RabbitDelivery(this.ctx, this, att, queue, message, count);
    att.live.add(delivery);
    invokeCallback(this.onDelivery, delivery);
  }

  /** Classic redelivery: re-publish with the count bumped, ack the old copy (see header). */
  private recount(att: Attachment, queue: string, message: ConsumeMessage, returns: number): void {
    const id = String(message.properties.messageId ?? "");
    const outgoing = workMessage(
      this.ctx.names,
      queue,
      { id, body: message.content, priority: message.properties.priority ?? 0, delayMs: 0 },
      returns + 1,
    );
    this.ctx.publisher.send([outgoing]).then(
      () => att.batcher.ack(message.fields.deliveryTag).then(() => this.settled(att)),
      () => {
        // Cannot re-publish now (publisher connection down): hand it over with the best count.
        if (!att.batcher.alive) return this.settled(att);
        this.handOver(att, queue, message, returns + 2);
      },
    );
  }

  /** A delivery of `att` was settled (or written off): its prefetch slot is free again. */
  settled(att: Attachment): void {
    att.outstanding--;
    if (att === this.current) {
      if (this.closing && att.outstanding === 0) void this.finish(att);
      return;
    }
    if (!att.batcher.alive) {
      this.stale--;
      const current = this.current;
      if (current?.channelWide && !this.quorum && current.qos < this.consume.prefetch) {
        current.qos = this.consume.prefetch - this.stale;
        current.channel.prefetch(current.qos, true).catch(() => undefined);
      }
      if (!current) this.scheduleReattach();
    }
  }

  private lost(att: Attachment): void {
    att.batcher.kill();
    att.live.clear();
    if (this.current !== att) return;
    this.current = undefined;
    this.stale += att.outstanding;
    if (this.closing) {
      this.forget(this);
      return;
    }
    this.scheduleReattach();
  }

  private scheduleReattach(): void {
    if (this.closing || this.current || this.reattachTimer !== undefined) return;
    if (this.ctx.closedError()) return;
    // Quorum prefetch cannot be raised later, so wait for every stale delivery to settle first;
    // classic waits until at least one slot is free (`settled` calls back here).
    if (this.quorum ? this.stale > 0 : this.stale >= this.consume.prefetch) return;
    const delay = Math.min(REATTACH_MAX_MS, REATTACH_MIN_MS * 2 ** Math.min(this.failures, 6));
    this.reattachTimer = setTimeout(() => {
      this.reattachTimer = undefined;
      if (this.closing) return;
      this.attach().catch(() => {
        this.failures++;
        this.scheduleReattach();
      });
    }, delay);
  }

  /** Stops new deliveries; the channel closes once the held ones are settled. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.reattachTimer);
    this.reattachTimer = undefined;
    const att = this.current;
    if (!att) {
      this.forget(this);
      return;
    }
    for (const tag of att.tags) await att.channel.cancel(tag).catch(() => undefined);
    if (att.outstanding === 0) await this.finish(att);
  }

  private async finish(att: Attachment): Promise<void> {
    if (this.current === att) this.current = undefined;
    att.batcher.kill();
    this.forget(this);
    await att.channel.close().catch(() => undefined);
  }

  /** The client is closing: drop the channel now (held messages go back to their queues). */
  async abort(): Promise<void> {
    this.closing = true;
    clearTimeout(this.reattachTimer);
    this.reattachTimer = undefined;
    const att = this.current;
    this.current = undefined;
    if (att) {
      att.batcher.kill();
      att.live.clear();
      await att.channel.close().catch(() => undefined);
    }
  }

  /** Deliveries this subscription holds now in `queue` (for stats). */
  heldIn(queue: string): number {
    let n = 0;
    for (const d of this.current?.live ?? []) if (d.queue === queue) n++;
    return n;
  }
}

export class RabbitDelivery extends GuardedDelivery {
  readonly id: string;
  readonly body: Uint8Array;

  constructor(
    private readonly ctx: RabbitContext,
    private readonly subscription: RabbitSubscription,
    private readonly att: Attachment,
    readonly queue: string,
    private readonly message: ConsumeMessage,
    readonly deliveryCount: number,
  ) {
    super(ctx.limits);
    this.id = String(message.properties.messageId ?? "");
    this.body = message.content;
  }

  protected closedError(): GoTaskQError | undefined {
    return this.ctx.closedError() as GoTaskQError | undefined;
  }

  protected slotFreed(): void {
    this.att.live.delete(this);
  }

  protected async perform(op: SettleOp): Promise<boolean> {
    const { att } = this;
    try {
      if (!att.batcher.alive) return false;
      if (op.kind === "extendLease") return true;
      const next = this.replacement(op);
      if (next) {
        try {
          if (op.kind === "retry" && op.delayMs > 0) {
            await this.ctx.topology.ensureLadder(this.queue);
          }
          await this.ctx.publisher.send([next]);
        } catch (error) {
          // The next attempt (or DLQ copy) is not durable: give the message back to the queue
          // now rather than let it hold a prefetch slot until the channel dies. It comes back
          // counted as a delivery that did not settle.
          att.batcher.requeue(this.message.fields.deliveryTag);
          throw error;
        }
      }
      // Published but the channel died meanwhile: the original comes back too (at-least-once).
      return await att.batcher.ack(this.message.fields.deliveryTag);
    } finally {
      if (op.kind !== "extendLease") this.subscription.settled(att);
    }
  }

  /** What must be durable before this delivery is acked. */
  private replacement(op: Exclude<SettleOp, { kind: "extendLease" }>) {
    const { names } = this.ctx;
    const priority = this.message.properties.priority ?? 0;
    switch (op.kind) {
      case "ack":
        return undefined;
      case "retry":
        return workMessage(names, this.queue, {
          id: this.id,
          body: op.body,
          priority,
          delayMs: op.delayMs,
        });
      case "release":
        // A re-publish, not a nack: a nack would flag the message redelivered and count it.
        return workMessage(
          names,
          this.queue,
          { id: this.id, body: this.body, priority, delayMs: 0 },
          numberHeader(this.message.properties.headers, RETURNS_HEADER),
        );
      case "deadLetter":
        return deadLetterMessage(names, this.queue, {
          id: this.id,
          body: this.body,
          reason: op.reason,
          detail: op.detail,
          at: Date.now(),
        });
    }
  }
}
