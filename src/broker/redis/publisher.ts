import type { OutgoingMessage } from "../broker.js";
import type { RedisClient, ScriptCaller } from "./connection.js";
import type { GlobalKeys, QueueKeys } from "./keys.js";

// Publishing: every publish call of the same event-loop turn to the same queue is coalesced into
// one `publish` script call (one round trip, one reply) of at most MAX_PER_CALL messages, so the
// API's many small submissions cost Redis and Node what one batch costs. Each caller's promise
// settles with the script call that carried its messages: resolved = durable (the script's
// XADD/ZADD replied, after the AOF write under appendfsync always).

const MAX_PER_CALL = 2_000;

interface Pending {
  messages: OutgoingMessage[];
  waiters: { resolve: () => void; reject: (error: unknown) => void }[];
}

export class Publisher {
  private readonly pending = new Map<string, Pending>();
  private readonly registered = new Set<string>();
  private scheduled = false;
  private calls = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly scripts: ScriptCaller,
    private readonly keysFor: (queue: string) => QueueKeys,
    private readonly global: GlobalKeys,
    private readonly nonce: string,
  ) {}

  publish(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    return new Promise((resolve, reject) => {
      let entry = this.pending.get(queue);
      if (!entry) {
        entry = { messages: [], waiters: [] };
        this.pending.set(queue, entry);
      }
      for (const m of messages) entry.messages.push(m);
      entry.waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Notes a queue in the registry that `queues()` reads (once per client and queue). */
  async register(queue: string): Promise<void> {
    if (this.registered.has(queue)) return;
    await this.redis.sadd(this.global.queues, queue);
    this.registered.add(queue);
  }

  private flush(): void {
    this.scheduled = false;
    const batches = [...this.pending];
    this.pending.clear();
    for (const [queue, { messages, waiters }] of batches) {
      const keys = this.keysFor(queue).all;
      const calls: Promise<unknown>[] = [this.register(queue)];
      for (let i = 0; i < messages.length; i += MAX_PER_CALL) {
        const args: (string | number | Buffer)[] = [`${this.nonce}.${this.calls++}.`];
        for (const m of messages.slice(i, i + MAX_PER_CALL)) {
          args.push(
            m.priority,
            m.id,
            Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength),
            m.delayMs,
          );
        }
        calls.push(this.scripts.gtqPublishBuffer(keys, ...args));
      }
      Promise.all(calls).then(
        () => {
          for (const w of waiters) w.resolve();
        },
        (error: unknown) => {
          for (const w of waiters) w.reject(error);
        },
      );
    }
  }
}
