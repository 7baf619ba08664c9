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
//   exchange P + "control/presence" (fanout): presence beats, to one exclusive, auto-deleted,
//                               server-named queue per control subscriber (nothing retained)
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
  get presenceExchange(): string {
    return `${this.prefix}control/presence`;
  }
  /** Declared after the delay exchanges and their bindings: when it exists, they all do. */
  get ladderMarker(): string {
    return `${this.prefix}delay/ready`;
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
  private basics: Promise<void> | undefined;
  private control: Promise<void> | undefined;
  private exchanges: Promise<void> | undefined;
  private exchangesDeclared = false;
  private readonly declared = new Map<string, Promise<void>>();
  private readonly ladders = new Map<string, Promise<void>>();

  constructor(
    private readonly link: Link,
    private readonly options: RabbitOptions,
  ) {
    this.names = new Names(options.prefix);
  }

  /** Forgets what was declared (after a connection loss the broker may have been reset). */
  forget(): void {
    this.basics = undefined;
    this.control = undefined;
    this.exchanges = undefined;
    this.declared.clear();
    this.ladders.clear();
  }

  /** Declares the queue registry (once per client). */
  ensureRegistry(): Promise<void> {
    this.basics ??= this.once(() =>
      this.withChannel("declare the queue registry", (ch) =>
        ch.assertQueue(this.names.registry, { durable: true }),
      ),
    ).catch((error: unknown) => {
      this.basics = undefined;
      throw error;
    });
    return this.basics;
  }

  /** Declares the control stream and the presence exchange (once per client). */
  ensureControl(): Promise<void> {
    this.control ??= this.withChannel("declare the control stream", async (ch) => {
      await ch.assertQueue(this.names.control, {
        durable: true,
        arguments: {
          "x-queue-type": "stream",
          "x-max-age": `${Math.ceil(this.options.controlRetentionMs / 1000)}s`,
        },
      });
      await ch.assertExchange(this.names.presenceExchange, "fanout", { durable: true });
    })
      .then(() => undefined)
      .catch((error: unknown) => {
        this.control = undefined;
        throw error;
      });
    return this.control;
  }

  /**
   * Declares a work queue and its DLQ (once per client and queue). The work queue is declared
   * actively, so a mismatch of its arguments (e.g. another queue_type) is reported.
   */
  ensureQueue(queue: string): Promise<void> {
    let done = this.declared.get(queue);
    if (!done) {
      const n = this.names;
      done = this.withChannel(`declare queue ${queue}`, async (ch) => {
        await ch.assertQueue(n.work(queue), {
          durable: true,
          arguments: this.workArguments(queue),
        });
        await ch.assertQueue(n.deadLetters(queue), {
          durable: true,
          arguments: this.options.queueType === "quorum" ? { "x-queue-type": "quorum" } : {},
        });
      }).catch((error: unknown) => {
        this.declared.delete(queue);
        throw error;
      });
      this.declared.set(queue, done);
    }
    return done;
  }

  /**
   * Declares the delay ladder of a queue, before its first delayed message (once per client and
   * queue; a queue that never sees a delay never gets one). Its last rung is declared last, so
   * when that rung exists the ladder is complete: one passive declare finds it.
   */
  ensureLadder(queue: string): Promise<void> {
    let done = this.ladders.get(queue);
    if (!done) {
      done = Promise.all([this.ensureQueue(queue), this.ensureExchanges()])
        .then(() => this.declareLadder(queue))
        .catch((error: unknown) => {
          this.ladders.delete(queue);
          throw error;
        });
      this.ladders.set(queue, done);
    }
    return done;
  }

  /** Whether the ladder of `queue` exists (stats read its rungs only then). */
  hasLadder(queue: string): Promise<boolean> {
    return this.exists((ch) => ch.checkQueue(this.names.rung(DELAY_BITS - 1, queue)));
  }

  /** The 32 delay exchanges, their bindings and `deliver`; a marker exchange last. */
  private ensureExchanges(): Promise<void> {
    this.exchanges ??= (async () => {
      const n = this.names;
      if (await this.exists((ch) => ch.checkExchange(n.ladderMarker))) return;
      // Declared (again) by this client: bindings of existing rungs may have died with deleted
      // exchanges, so ladders are declared in full rather than found by their last rung.
      this.exchangesDeclared = true;
      await this.withChannels("declare the delay exchanges", PARALLEL, async (ch, lane) => {
        for (let k = lane; k < DELAY_BITS; k += PARALLEL) {
          await ch.assertExchange(n.delayExchange(k), "topic", { durable: true });
        }
        if (lane === 0) await ch.assertExchange(n.deliverExchange, "topic", { durable: true });
      });
      await this.withChannels("bind the delay exchanges", PARALLEL, async (ch, lane) => {
        for (let k = lane; k < DELAY_BITS; k += PARALLEL) {
          const next = k === 0 ? n.deliverExchange : n.delayExchange(k - 1);
          await ch.bindExchange(next, n.delayExchange(k), bitPattern(k, "0", "#"));
        }
      });
      await this.withChannel("declare the ladder marker", (ch) =>
        ch.assertExchange(n.ladderMarker, "fanout", { durable: true }),
      );
    })().catch((error: unknown) => {
      this.exchanges = undefined;
      throw error;
    });
    return this.exchanges;
  }

  private async declareLadder(queue: string): Promise<void> {
    const n = this.names;
    const last = DELAY_BITS - 1;
    if (
      !this.exchangesDeclared &&
      (await this.exists((ch) => ch.checkQueue(n.rung(last, queue))))
    ) {
      return;
    }
    const rung = async (ch: Channel, k: number) => {
      await ch.assertQueue(n.rung(k, queue), {
        durable: true,
        arguments: {
          "x-message-ttl": 2 ** k,
          "x-dead-letter-exchange": k === 0 ? n.deliverExchange : n.delayExchange(k - 1),
        },
      });
      await ch.bindQueue(n.rung(k, queue), n.delayExchange(k), bitPattern(k, "1", queue));
    };
    await this.withChannels(`declare the delay ladder of ${queue}`, PARALLEL, async (ch, lane) => {
      if (lane === 0) {
        await ch.bindQueue(n.work(queue), n.deliverExchange, bitPattern(undefined, "*", queue));
      }
      for (let k = lane; k < last; k += PARALLEL) await rung(ch, k);
    });
    await this.withChannel(`complete the delay ladder of ${queue}`, (ch) => rung(ch, last));
  }

  private once(work: () => Promise<unknown>): Promise<void> {
    return work().then(() => undefined);
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

  /** Deletes everything this prefix declared for `queues` (tests and maintenance; idempotent). */
  async destroy(queues: readonly string[]): Promise<void> {
    const n = this.names;
    await this.withChannels("delete GoTaskQ's queues", PARALLEL, async (ch, lane) => {
      for (const queue of queues) {
        if (lane === 0) {
          await ch.deleteQueue(n.work(queue));
          await ch.deleteQueue(n.deadLetters(queue));
        }
        for (let k = lane; k < DELAY_BITS; k += PARALLEL) await ch.deleteQueue(n.rung(k, queue));
      }
    });
    // Exchanges one after another: deleting exchanges bound to each other at once can fail.
    await this.withChannel("delete GoTaskQ's shared objects", async (ch) => {
      for (let k = DELAY_BITS - 1; k >= 0; k--) await ch.deleteExchange(n.delayExchange(k));
      await ch.deleteQueue(n.control);
      await ch.deleteExchange(n.presenceExchange);
      await ch.deleteQueue(n.registry);
      await ch.deleteExchange(n.deliverExchange);
      await ch.deleteExchange(n.ladderMarker);
    });
    this.forget();
  }
}
