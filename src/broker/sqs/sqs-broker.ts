import { GetQueueAttributesCommand, ListQueuesCommand } from "@aws-sdk/client-sqs";
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
import { deleteBatcher, visibilityBatcher } from "./batcher.js";
import { ATTRIBUTE_RESERVE_BYTES, checkEncodedSize, encodeMessage } from "./codec.js";
import type { SqsContext } from "./context.js";
import { SqsControlChannel } from "./control-channel.js";
import { SqsDeadLetters } from "./dead-letters.js";
import { QueueNames } from "./names.js";
import {
  parseSqsUrl,
  type ResolvedSqsOptions,
  resolveSqsOptions,
  type SqsBrokerOptions,
} from "./options.js";
import { SqsSubscription } from "./receiver.js";
import { createClients, isQueueMissing, type SqsClients, toDomainError } from "./sdk.js";
import { type SqsEntry, sendAll } from "./sender.js";
import { Topology } from "./topology.js";

// The AWS SQS broker (standard queues). This file wires the pieces and is the error boundary:
// every SDK failure leaves as a GoTaskQError (`unavailable` for connectivity, throttling and
// credentials), never as an SDK error.
//
// - options.ts: settings and the sqs:// URL.       - sdk.ts: clients, retries, error mapping.
// - names.ts: queue names.  - topology.ts: queue creation (lanes, DLQ, redrive).
// - codec.ts: body and attributes.  - sender.ts / batcher.ts: batched sends, deletes, visibility.
// - receiver.ts: receive loops, lane polling order, long delays.  - delivery.ts: settles, leases.
// - dead-letters.ts: DLQ scan, list, requeue.  - control-channel.ts: revocations.
//
// Mapping of the seam onto SQS (the README's SQS section has the user-facing version):
// - Priority: `lanes` standard queues per GoTaskQ queue (default 3: 0–3, 4–6, 7–9), polled from
//   the highest lane down (receiver.ts). Order inside a lane is SQS's: best-effort, not FIFO.
// - Delays: DelaySeconds (whole seconds, rounded up, never early) up to 15 min; longer ones carry
//   their due time and are re-sent on early arrival, up to `limits.maxDelayMs` (30 days).
// - Leases: the visibility timeout (whole seconds, rounded up), extended with
//   ChangeMessageVisibility, capped 5 min short of SQS's 12 h; see delivery.ts for lease loss.
// - deliveryCount: SQS's ApproximateReceiveCount plus deliveries carried over by `release`.
// - Stats: SQS's approximate counters (ApproximateNumberOfMessages, …NotVisible, …Delayed),
//   summed over lanes; on AWS they lag by up to a minute.

export { parseSqsUrl } from "./options.js";

export function sqsLimits(options: ResolvedSqsOptions): BrokerLimits {
  return {
    maxMessageBytes: options.sqsMaxBytes - ATTRIBUTE_RESERVE_BYTES,
    maxDelayMs: MAX_DELAY_MS,
    priorities: options.lanes,
  };
}

export function openSqsBroker(options: SqsBrokerOptions = {}): Broker {
  return new SqsBroker(resolveSqsOptions(options));
}

/** The URL schemes `open` understands (backends/open.ts routes them here). */
export const SCHEMES: readonly string[] = ["sqs:"];

/** `sqs://?region=us-east-1&endpoint=…`; the URL's options are listed in options.ts. */
export function open(url: string): Broker {
  return openSqsBroker(parseSqsUrl(url));
}

class SqsBroker extends GuardedBroker {
  readonly kind = "sqs";
  readonly limits: BrokerLimits;
  private readonly clients: SqsClients;
  private readonly ctx: SqsContext;
  protected readonly controlChannel: SqsControlChannel;
  private readonly subscriptions = new Set<SqsSubscription>();
  private readonly known = new Set<string>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: ResolvedSqsOptions) {
    super();
    this.limits = sqsLimits(options);
    this.clients = createClients(options);
    const topology = new Topology(
      this.clients,
      new QueueNames(options.prefix, options.fifo),
      options.sqsMaxBytes,
      options.maxReceiveCount,
      options.fifo,
    );
    this.ctx = {
      clients: this.clients,
      topology,
      options,
      limits: this.limits,
      deletes: deleteBatcher(this.clients),
      visibility: visibilityBatcher(this.clients),
      now: options.now,
      isClosed: () => this.closed,
      sendToLane: (queue, lane, entries) => this.sendToLane(queue, lane, entries),
      sendToDeadLetters: (queue, entries) =>
        this.sendWithRecreate(
          () => topology.deadLetterUrl(queue),
          entries,
          () => topology.invalidate(topology.names.deadLetters(queue)),
        ),
      track: <T>(work: Promise<T>): Promise<T> => {
        this.inFlight.add(work);
        const done = (): void => {
          this.inFlight.delete(work);
        };
        work.then(done, done);
        return work;
      },
    };
    this.controlChannel = new SqsControlChannel(this.ctx);
  }

  protected closedError(): UnavailableError | undefined {
    return this.closed ? new UnavailableError("sqs broker client is closed") : undefined;
  }

  /** Priority 0–9 → lane 0 … lanes-1 (lane lanes-1 is polled first). */
  private readonly laneOf = (priority: number): number =>
    Math.floor((priority * this.options.lanes) / 10);

  private sendToLane(queue: string, lane: number, entries: readonly SqsEntry[]): Promise<void> {
    const topology = this.ctx.topology;
    const forget = (): void => {
      topology.invalidate(topology.names.lane(queue, lane));
      topology.invalidate(topology.names.deadLetters(queue));
    };
    if (!this.options.fifo) {
      return this.sendWithRecreate(() => topology.laneUrl(queue, lane), entries, forget);
    }
    // FIFO lanes take no per-message delay: delayed messages wait in the lane's standard
    // companion queue until a subscription's forwarder moves them over (receiver.ts).
    const now = entries.filter((e) => e.delaySeconds === 0).map((e) => ({ ...e, groupId: queue }));
    const later = entries.filter((e) => e.delaySeconds > 0);
    return Promise.all([
      now.length > 0
        ? this.sendWithRecreate(() => topology.laneUrl(queue, lane), now, forget)
        : undefined,
      later.length > 0
        ? this.sendWithRecreate(
            () => topology.delayUrl(queue, lane),
            later,
            () => topology.invalidate(topology.names.delayLane(queue, lane)),
          )
        : undefined,
    ]).then(() => undefined);
  }

  private async sendWithRecreate(
    url: () => Promise<string>,
    entries: readonly SqsEntry[],
    forget: () => void,
  ): Promise<void> {
    try {
      await sendAll(this.clients, await url(), entries, this.options.sqsMaxBytes);
    } catch (error) {
      if (!isQueueMissing(error)) throw toDomainError(error, "sending messages");
      // The queue vanished (deleted, or an emulator restarted): create it again, once.
      forget();
      await sendAll(this.clients, await url(), entries, this.options.sqsMaxBytes);
    }
  }

  protected async performPublish(
    queue: string,
    messages: readonly OutgoingMessage[],
  ): Promise<void> {
    if (messages.length === 0) return;
    const now = this.ctx.now();
    const byLane = new Map<number, SqsEntry[]>();
    for (const m of messages) {
      const encoded = encodeMessage(
        m.id,
        m.body,
        m.delayMs > 900_000 ? { dueAt: now + m.delayMs } : {},
      );
      checkEncodedSize(m.id, encoded, this.options.sqsMaxBytes);
      const lane = this.laneOf(m.priority);
      let list = byLane.get(lane);
      if (!list) {
        list = [];
        byLane.set(lane, list);
      }
      list.push({
        id: m.id,
        ...encoded,
        delaySeconds: m.delayMs > 0 ? Math.min(900, Math.ceil(m.delayMs / 1_000)) : 0,
      });
    }
    this.known.add(queue);
    await this.ctx.track(
      Promise.all([...byLane].map(([lane, entries]) => this.ctx.sendToLane(queue, lane, entries))),
    );
  }

  protected async performConsume(
    queues: readonly string[],
    options: ConsumeOptions,
    onDelivery: (delivery: Delivery) => void,
  ): Promise<Subscription> {
    for (const q of queues) this.known.add(q);
    const subscription = new SqsSubscription(this.ctx, queues, options, onDelivery);
    await subscription.start();
    // Closed while the subscription was starting.
    const closed = this.closedError();
    if (closed) {
      await subscription.close();
      throw closed;
    }
    this.subscriptions.add(subscription);
    const close = subscription.close.bind(subscription);
    subscription.close = async () => {
      this.subscriptions.delete(subscription);
      await close();
    };
    return subscription;
  }

  protected performDeadLetters(queue: string): DeadLetterQueue {
    return new SqsDeadLetters(this.ctx, queue, this.laneOf);
  }

  protected async performStats(queue: string): Promise<QueueStats> {
    const names = this.ctx.topology.names;
    const counts = async (name: string): Promise<[number, number, number]> => {
      const url = await this.ctx.topology.existingUrl(name);
      if (!url) return [0, 0, 0];
      try {
        const out = await this.clients.calls.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: [
              "ApproximateNumberOfMessages",
              "ApproximateNumberOfMessagesNotVisible",
              "ApproximateNumberOfMessagesDelayed",
            ],
          }),
        );
        const a = out.Attributes ?? {};
        return [
          Number(a.ApproximateNumberOfMessages ?? 0),
          Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
          Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
        ];
      } catch (error) {
        if (isQueueMissing(error)) return [0, 0, 0];
        throw toDomainError(error, `reading the stats of ${name}`);
      }
    };
    const laneNumbers = Array.from({ length: this.options.lanes }, (_, lane) => lane);
    const lanes = await Promise.all(laneNumbers.map((lane) => counts(names.lane(queue, lane))));
    // FIFO mode: whatever sits in a delay companion queue is waiting for its time.
    const waiting = this.options.fifo
      ? await Promise.all(laneNumbers.map((lane) => counts(names.delayLane(queue, lane))))
      : [];
    const [dr, di, dd] = await counts(names.deadLetters(queue));
    return {
      queue,
      ready: lanes.reduce((sum, c) => sum + c[0], 0),
      inFlight: lanes.reduce((sum, c) => sum + c[1], 0),
      delayed:
        lanes.reduce((sum, c) => sum + c[2], 0) +
        waiting.reduce((sum, c) => sum + c[0] + c[1] + c[2], 0),
      deadLettered: dr + di + dd,
    };
  }

  protected async performQueues(): Promise<string[]> {
    const names = this.ctx.topology.names;
    const found = new Set(this.known);
    for (const { name } of await this.ctx.topology.list(names.lanePrefix)) {
      const queue = names.queueOfLane(name);
      if (queue) found.add(queue);
    }
    return [...found].sort();
  }

  protected async performPing(): Promise<void> {
    try {
      await this.clients.calls.send(
        new ListQueuesCommand({ QueueNamePrefix: this.options.prefix || "gotaskq", MaxResults: 1 }),
      );
    } catch (error) {
      throw toDomainError(error, "reaching SQS");
    }
  }

  /**
   * Stops every subscription, waits (≤ 5 s) for sends and settles already requested, then drops
   * the connections. Unsettled deliveries stay invisible until their visibility timeout ends.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await Promise.allSettled([
        ...[...this.subscriptions].map((s) => s.close()),
        this.controlChannel.closeAll(),
      ]);
      const pending = Promise.allSettled([...this.inFlight]);
      await Promise.race([pending, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
      this.clients.destroy();
    })();
    return this.closing;
  }
}
