import type { Channel, ConsumeMessage } from "amqplib";
import type { ControlChannel, ControlCommand, PresenceCommand, Subscription } from "../broker.js";
import { decodeCommand, encodeCommand, invokeCallback } from "../validation.js";
import type { RabbitContext } from "./context.js";
import { toDomainError } from "./errors.js";

// The control channel is a stream queue (`P + "control/revocations"`, x-max-age = the retention).
// A stream is an append-only log that every consumer reads independently, so one publish reaches
// every subscriber (broadcast), and a subscriber that starts later reads the log from the start of
// the retention window (replay: a cancel survives worker restarts and reaches late joiners).
// Retention is by whole segments, so commands may be replayed somewhat longer than the window;
// replaying an old revocation is harmless (the worker compares it with the task's creation).
// A subscriber that loses its channel resumes after the last offset it saw.
//
// Presence beats must not go into the stream (every beat would be kept for the retention window
// and replayed to every new subscriber). They go to the fanout exchange `P + "control/presence"`,
// which copies each to one exclusive, auto-deleted, server-named queue per subscriber, declared on
// the subscriber's channel (it vanishes with it). A beat is sent without confirm, persistence or
// `mandatory` on a plain channel: it is best-effort by contract, and the next beat follows.

const REATTACH_MIN_MS = 100;
/** A beat older than this in a subscriber's queue is stale anyway (beats come every few s). */
const PRESENCE_QUEUE_TTL_MS = 30_000;
const PRESENCE_QUEUE_MAX = 10_000;
const REATTACH_MAX_MS = 5_000;

export class RabbitControlChannel implements ControlChannel {
  private readonly subscriptions = new Set<ControlSubscription>();
  private beatChannel: Promise<Channel> | undefined;

  constructor(private readonly ctx: RabbitContext) {}

  async broadcast(command: ControlCommand): Promise<void> {
    await this.ctx.topology.ensureControl();
    if (command.type === "presence") return this.beat(command);
    await this.ctx.publisher.send([
      {
        exchange: "",
        routingKey: this.ctx.names.control,
        content: Buffer.from(encodeCommand(command)),
        options: { contentType: "application/json", persistent: true, mandatory: true },
      },
    ]);
  }

  private async beat(command: PresenceCommand): Promise<void> {
    try {
      const channel = await this.openBeatChannel();
      channel.publish(this.ctx.names.presenceExchange, "", Buffer.from(encodeCommand(command)), {
        contentType: "application/json",
        persistent: false,
      });
    } catch (error) {
      throw toDomainError(error, this.ctx.options.where, "send a presence beat");
    }
  }

  private openBeatChannel(): Promise<Channel> {
    if (this.beatChannel) return this.beatChannel;
    const opening = (async () => {
      const model = await this.ctx.consumerLink.get();
      const channel = await model.createChannel();
      channel.on("error", () => undefined);
      channel.on("close", () => {
        if (this.beatChannel === opening) this.beatChannel = undefined;
      });
      return channel;
    })();
    this.beatChannel = opening;
    opening.catch(() => {
      if (this.beatChannel === opening) this.beatChannel = undefined;
    });
    return opening;
  }

  async subscribe(handler: (command: ControlCommand) => void): Promise<Subscription> {
    const subscription = new ControlSubscription(this.ctx, handler, (s) =>
      this.subscriptions.delete(s),
    );
    await subscription.attach();
    this.subscriptions.add(subscription);
    return subscription;
  }

  async closeAll(): Promise<void> {
    const beat = this.beatChannel;
    this.beatChannel = undefined;
    await Promise.all([
      ...[...this.subscriptions].map((s) => s.close()),
      beat?.then((ch) => ch.close()).catch(() => undefined),
    ]);
  }
}

class ControlSubscription implements Subscription {
  private channel: Channel | undefined;
  /** Offset of the last command seen; resume after it. */
  private lastOffset: number | undefined;
  private closing = false;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(
    private readonly ctx: RabbitContext,
    private readonly handler: (command: ControlCommand) => void,
    private readonly forget: (s: ControlSubscription) => void,
  ) {}

  async attach(): Promise<void> {
    const { ctx } = this;
    let ch: Channel | undefined;
    try {
      await ctx.topology.ensureControl();
      const model = await ctx.consumerLink.get();
      ch = await model.createChannel();
      ch.on("error", () => undefined);
      const channel = ch;
      channel.on("close", () => this.lost(channel));
      // Streams need manual acks and a prefetch over AMQP; acks only move the credit window.
      await channel.prefetch(500);
      await channel.consume(ctx.names.control, (message) => this.arrived(channel, message), {
        noAck: false,
        arguments: {
          // First attach: the retention window (a timestamp offset); later: after the last seen.
          "x-stream-offset":
            this.lastOffset === undefined
              ? {
                  "!": "timestamp",
                  value: Math.floor((Date.now() - ctx.options.controlRetentionMs) / 1000),
                }
              : this.lastOffset + 1,
        },
      });
      // Presence: a queue of its own on this channel, gone with it (exclusive, auto-delete).
      const { queue } = await channel.assertQueue("", {
        exclusive: true,
        autoDelete: true,
        durable: false,
        arguments: { "x-message-ttl": PRESENCE_QUEUE_TTL_MS, "x-max-length": PRESENCE_QUEUE_MAX },
      });
      await channel.bindQueue(queue, ctx.names.presenceExchange, "");
      await channel.consume(queue, (message) => this.heard(message), { noAck: true });
      if (this.closing) throw ctx.closedError() ?? new Error("closed");
      this.channel = channel;
      this.failures = 0;
    } catch (error) {
      await ch?.close().catch(() => undefined);
      throw toDomainError(error, ctx.options.where, "subscribe to the control stream");
    }
  }

  private arrived(channel: Channel, message: ConsumeMessage | null): void {
    try {
      if (message === null) {
        void channel.close().catch(() => undefined);
        return;
      }
      channel.ack(message);
      const offset = message.properties.headers?.["x-stream-offset"];
      if (typeof offset === "number") {
        if (this.lastOffset !== undefined && offset <= this.lastOffset) return;
        this.lastOffset = offset;
      }
      const command = decodeCommand(message.content.toString("utf8"));
      if (command) invokeCallback(this.handler, command);
    } catch {
      // A malformed command is skipped: it must not stop the control channel.
    }
  }

  private heard(message: ConsumeMessage | null): void {
    if (message === null) return; // the queue went away: the channel closes too, see lost()
    const command = decodeCommand(message.content.toString("utf8"));
    if (command?.type === "presence") invokeCallback(this.handler, command);
  }

  private lost(channel: Channel): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    if (this.closing || this.ctx.closedError()) return;
    this.schedule();
  }

  private schedule(): void {
    const delay = Math.min(REATTACH_MAX_MS, REATTACH_MIN_MS * 2 ** Math.min(this.failures, 6));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.closing) return;
      this.attach().catch(() => {
        this.failures++;
        if (!this.closing && !this.ctx.closedError()) this.schedule();
      });
    }, delay);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.timer);
    const ch = this.channel;
    this.channel = undefined;
    this.forget(this);
    await ch?.close().catch(() => undefined);
  }
}
