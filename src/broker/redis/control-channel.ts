import type { ControlChannel, ControlCommand, Subscription } from "../broker.js";
import { decodeCommand, encodeCommand, invokeCallback } from "../validation.js";
import type { RedisClient } from "./connection.js";
import type { GlobalKeys } from "./keys.js";

// Cancellation across processes: a revocation is recorded in a sorted set (score = when it was
// issued; entries older than the retention are trimmed on every broadcast) and published on a
// pub/sub channel. Pub/sub reaches the subscribers connected now; the sorted set is replayed to
// every new subscriber and again after each reconnect of the subscriber connection, because
// pub/sub drops what was published while a subscriber was disconnected. Duplicates are harmless
// (a revocation is idempotent). Presence beats go over pub/sub only: never stored, never replayed.

export const DEFAULT_REVOCATION_RETENTION_MS = 7 * 24 * 3_600_000;

type Handler = (command: ControlCommand) => void;

export class RedisControlChannel implements ControlChannel {
  private readonly handlers = new Set<Handler>();
  private subscriber: RedisClient | undefined;
  private subscribed: Promise<void> | undefined;

  constructor(
    private readonly redis: RedisClient,
    /** A new connection for SUBSCRIBE; resolves once it is connected. */
    private readonly openSubscriber: () => Promise<RedisClient>,
    private readonly keys: GlobalKeys,
    private readonly retentionMs: number,
    private readonly guard: <T>(work: () => Promise<T>) => Promise<T>,
  ) {}

  broadcast(command: ControlCommand): Promise<void> {
    return this.guard(async () => {
      const message = encodeCommand(command);
      // Presence is live only: pub/sub reaches the subscribers of the moment, nothing is kept.
      if (command.type === "presence") {
        await this.redis.publish(this.keys.channel, message);
        return;
      }
      // The set first: a subscriber that starts between the two steps still replays it.
      // Separate commands, not one pipeline: in a Cluster the channel and the set may live on
      // different nodes.
      await this.redis.zadd(this.keys.revocations, command.at, command.taskId);
      await this.redis.publish(this.keys.channel, message);
      await this.redis.zremrangebyscore(
        this.keys.revocations,
        "-inf",
        Date.now() - this.retentionMs,
      );
    });
  }

  subscribe(handler: Handler): Promise<Subscription> {
    return this.guard(async () => {
      await this.connect();
      this.handlers.add(handler);
      await this.replay([handler]);
      return {
        close: async () => {
          this.handlers.delete(handler);
          if (this.handlers.size === 0) this.stop();
        },
      };
    });
  }

  stop(): void {
    this.subscriber?.disconnect();
    this.subscriber = undefined;
    this.subscribed = undefined;
  }

  private connect(): Promise<void> {
    if (this.subscribed) return this.subscribed;
    this.subscribed = (async () => {
      const subscriber = await this.openSubscriber();
      this.subscriber = subscriber;
      subscriber.on("message", (_channel: string, text: string) => this.dispatch(text));
      subscriber.on("ready", () => {
        // ioredis resubscribes by itself after a reconnect; what was sent meanwhile is replayed.
        this.replay([...this.handlers]).catch(() => {});
      });
      await subscriber.subscribe(this.keys.channel);
    })().catch((error: unknown) => {
      this.stop();
      throw error;
    });
    return this.subscribed;
  }

  private async replay(handlers: Handler[]): Promise<void> {
    const flat = await this.redis.zrangebyscore(
      this.keys.revocations,
      Date.now() - this.retentionMs,
      "+inf",
      "WITHSCORES",
    );
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const command: ControlCommand = {
        type: "revoke",
        taskId: flat[i] as string,
        at: Number(flat[i + 1]),
      };
      for (const handler of handlers) invokeCallback(handler, command);
    }
  }

  private dispatch(text: string): void {
    const command = decodeCommand(text);
    if (command === undefined) return; // not ours: another writer on the channel
    for (const handler of this.handlers) invokeCallback(handler, command);
  }
}
