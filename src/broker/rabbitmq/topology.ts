import type { Channel, Options } from "amqplib";
import { toDomainError } from "./errors.js";
import type { Link } from "./link.js";
import type { RabbitOptions } from "./options.js";

// Every name GoTaskQ declares in RabbitMQ, and their declaration. For a work queue `q` and the
// prefix P (default `gotaskq.`):
//
//   P + q                 the work queue (classic with x-max-priority 9, or quorum)
//   P + "dlq/" + q        its dead-letter queue (same type)
//   P + "delay/k/" + q    rung k (0–31) of its delay ladder: classic, x-message-ttl 2^k ms
//   exchange P + "delay/k" (topic) and P + "deliver" (topic): the ladder's routing
//   P + "control/revocations"   the control channel (a stream queue with x-max-age)
//   P + "registry/queues"       the names of the work queues (for `queues()`)
//
// Work queue names never contain "/", so no derived name can collide with a work queue.
//
// The delay ladder (no plugin, no head-of-line blocking). A delay D (1 ms … 2^32-1 ms, about
// 49 days) is written in binary into the routing key, most significant bit first, followed by
// the queue name: "0.0.…1.0.1.q". Exchange `delay/k` routes a message whose bit k is 1 to rung
// `delay/k/q` and one whose bit k is 0 on to exchange `delay/k-1` (`deliver` after bit 0). Every
// message in rung k waits exactly 2^k ms (a per-queue TTL, so the rung is FIFO in expiry order and
// nothing waits behind a longer delay), then expires and is dead-lettered, routing key unchanged,
// into exchange `delay/k-1`. The message therefore waits the sum of the 2^k of its set bits = D,
// plus a few ms of routing per hop, and finally reaches `deliver`, which routes it by its last
// words to the work queue. It all runs inside RabbitMQ: no GoTaskQ process needs to be alive.

export const DELAY_BITS = 32;
/** Channels used at once to declare the ladder. */
const PARALLEL = 8;
export const MAX_LADDER_DELAY_MS = 2 ** DELAY_BITS - 1;
/** Classic priority queues: x-max-priority 9 gives the ten levels 0–9. */
const MAX_PRIORITY = 9;

export class Names {
  constructor(readonly prefix: string) {}
  work(queue: string): string {
    return this.prefix + queue;
  }
  deadLetters(queue: string): string {
    return `${this.prefix}dlq/${queue}`;
  }
  rung(k: number, queue: string): string {
    return `${this.prefix}delay/${k}/${queue}`;
  }
  delayExchange(k: number): string {
    return `${this.prefix}delay/${k}`;
  }
  get deliverExchange(): string {
    return `${this.prefix}deliver`;
  }
  get control(): string {
    return `${this.prefix}control/revocations`;
  }
  get registry(): string {
    return `${this.prefix}registry/queues`;
  }
}

/** Where a message with `delayMs` > 0 is published: the exchange of its highest set bit. */
export function delayRoute(
  names: Names,
  queue: string,
  delayMs: number,
): { exchange: string; routingKey: string } {
  const bits = delayMs.toString(2);
  return {
    exchange: names.delayExchange(bits.length - 1),
    routingKey: `${bits.padStart(DELAY_BITS, "0").split("").join(".")}.${queue}`,
  };
}

/** A topic pattern over the 32 bit words with `word` at bit k, then `tail`. */
function bitPattern(k: number | undefined, word: string, tail: string): string {
  const words: string[] = [];
  for (let bit = DELAY_BITS - 1; bit >= 0; bit--) words.push(bit === k ? word : "*");
  return `${words.join(".")}.${tail}`;
}

export class Topology {
  readonly names: Names;
  private shared: Promise<void> | undefined;
  private readonly declared = new Map<string, Promise<void>>();

  constructor(
    private readonly link: Link,
    private readonly options: RabbitOptions,
  ) {
    this.names = new Names(options.prefix);
  }

  /** Forgets what was declared (after a connection loss the broker may have been reset). */
  forget(): void {
    this.shared = undefined;
    this.declared.clear();
  }

  /**
   * Declares the exchanges, the control stream and the registry (once per client). The registry
   * is declared last, so when it exists everything before it does: a client finds it with one
   * passive declare instead of redeclaring 64 exchanges and bindings.
   */
  ensureShared(): Promise<void> {
    this.shared ??= (async () => {
      const n = this.names;
      if (await this.exists((ch) => ch.checkQueue(n.registry))) return;
      await this.withChannels("declare GoTaskQ's exchanges", PARALLEL, async (ch, lane) => {
        for (let k = lane; k < DELAY_BITS; k += PARALLEL) {
          await ch.assertExchange(n.delayExchange(k), "topic", { durable: true });
        }
        if (lane === 0) await ch.assertExchange(n.deliverExchange, "topic", { durable: true });
      });
      await this.withChannels("bind GoTaskQ's exchanges", PARALLEL, async (ch, lane) => {
        for (let k = lane; k < DELAY_BITS; k += PARALLEL) {
          const next = k === 0 ? n.deliverExchange : n.delayExchange(k - 1);
          await ch.bindExchange(next, n.delayExchange(k), bitPattern(k, "0", "#"));
        }
      });
      await this.withChannel("declare the control stream and the registry", async (ch) => {
        await ch.assertQueue(n.control, {
          durable: true,
          arguments: {
            "x-queue-type": "stream",
            "x-max-age": `${Math.ceil(this.options.controlRetentionMs / 1000)}s`,
          },
        });
        await ch.assertQueue(n.registry, { durable: true });
      });
    })().catch((error: unknown) => {
      this.shared = undefined;
      throw error;
    });
    return this.shared;
  }

  /**
   * Declares a work queue with its DLQ and delay ladder (once per client and queue). The work
   * queue is always declared actively (so a mismatch of its arguments, e.g. another queue_type,
   * is reported), the DLQ last, so an existing DLQ means the ladder is complete.
   */
  ensureQueue(queue: string): Promise<void> {
    let done = this.declared.get(queue);
    if (!done) {
      done = this.ensureShared()
        .then(() => this.declareQueue(queue))
        .catch((error: unknown) => {
          this.declared.delete(queue);
          throw error;
        });
      this.declared.set(queue, done);
    }
    return done;
  }

  private async declareQueue(queue: string): Promise<void> {
    const n = this.names;
    const work = { durable: true, arguments: this.workArguments(queue) };
    await this.withChannel(`declare queue ${queue}`, (ch) => ch.assertQueue(n.work(queue), work));
    if (await this.exists((ch) => ch.checkQueue(n.deadLetters(queue)))) return;
    await this.withChannels(`declare the delay ladder of ${queue}`, PARALLEL, async (ch, lane) => {
      if (lane === 0) {
        await ch.bindQueue(n.work(queue), n.deliverExchange, bitPattern(undefined, "*", queue));
      }
      for (let k = lane; k < DELAY_BITS; k += PARALLEL) {
        const rung = n.rung(k, queue);
        await ch.assertQueue(rung, {
          durable: true,
          arguments: {
            "x-message-ttl": 2 ** k,
            "x-dead-letter-exchange": k === 0 ? n.deliverExchange : n.delayExchange(k - 1),
          },
        });
        await ch.bindQueue(rung, n.delayExchange(k), bitPattern(k, "1", queue));
      }
    });
    await this.withChannel(`declare the DLQ of ${queue}`, (ch) =>
      ch.assertQueue(n.deadLetters(queue), {
        durable: true,
        arguments: this.options.queueType === "quorum" ? { "x-queue-type": "quorum" } : {},
      }),
    );
  }

  /** Runs a passive check; false when the broker answers 404 (it does not exist). */
  private async exists(check: (ch: Channel) => Promise<unknown>): Promise<boolean> {
    try {
      await this.withChannel("check an existing declaration", check);
      return true;
    } catch (error) {
      if ((error as { cause?: { code?: unknown } }).cause?.code === 404) return false;
      throw error;
    }
  }

  /** Runs `work` on `lanes` channels at once (amqplib serializes the calls of one channel). */
  private async withChannels(
    what: string,
    lanes: number,
    work: (ch: Channel, lane: number) => Promise<void>,
  ): Promise<void> {
    await Promise.all(
      Array.from({ length: lanes }, (_, lane) => this.withChannel(what, (ch) => work(ch, lane))),
    );
  }

  private workArguments(queue: string): Options.AssertQueue["arguments"] {
    if (this.options.queueType === "classic") return { "x-max-priority": MAX_PRIORITY };
    // Quorum: RabbitMQ counts deliveries itself and dead-letters a message past the limit into
    // the DLQ (listed with reason `poison`); the worker's own maxDeliveries check comes first.
    return {
      "x-queue-type": "quorum",
      "x-delivery-limit": this.options.deliveryLimit,
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": this.names.deadLetters(queue),
    };
  }

  /** Runs `work` on a fresh channel of the link (a failed declaration kills its channel). */
  async withChannel<T>(what: string, work: (ch: Channel) => Promise<T>): Promise<T> {
    let ch: Channel | undefined;
    try {
      const model = await this.link.get();
      ch = await model.createChannel();
      ch.on("error", () => undefined);
      const result = await work(ch);
      return result;
    } catch (error) {
      throw toDomainError(error, this.options.where, what);
    } finally {
      await ch?.close().catch(() => undefined);
    }
  }

  /** Deletes everything this prefix declared for `queues` (tests and `gotaskq` maintenance). */
  async destroy(queues: readonly string[]): Promise<void> {
    await this.withChannel("delete GoTaskQ's queues", async (ch) => {
      const n = this.names;
      for (const queue of queues) {
        await ch.deleteQueue(n.work(queue));
        await ch.deleteQueue(n.deadLetters(queue));
        for (let k = 0; k < DELAY_BITS; k++) await ch.deleteQueue(n.rung(k, queue));
      }
      await ch.deleteQueue(n.control);
      await ch.deleteQueue(n.registry);
      for (let k = 0; k < DELAY_BITS; k++) await ch.deleteExchange(n.delayExchange(k));
      await ch.deleteExchange(n.deliverExchange);
    });
    this.forget();
  }
}
