import { performance } from "node:perf_hooks";
import {
  ChangeMessageVisibilityCommand,
  type Message,
  ReceiveMessageCommand,
} from "@aws-sdk/client-sqs";
import type { ConsumeOptions, Delivery, Subscription } from "../broker.js";
import { invokeCallback } from "../validation.js";
import { decodeMessage, resendAttributes } from "./codec.js";
import { type SqsContext, toSeconds } from "./context.js";
import { type DeliverySlot, SqsDelivery } from "./delivery.js";
import { isQueueMissing, toDomainError } from "./sdk.js";

// A subscription: several receive loops in parallel (one SQS call returns at most 10 messages,
// so one loop cannot keep a busy worker fed), sharing the prefetch budget: a loop reserves free
// slots before it asks and gives back what it did not get, so the subscription never holds more
// than `prefetch` unsettled deliveries. A loop asks for a full batch (10, or the prefetch if
// smaller) as soon as that many slots are free, else for what is free 20 ms after a slot freed:
// full batches under load (as few calls as a hand-written consumer), no slot idle for long.
//
// Polling order across priority lanes: each round sweeps the lanes from the highest down with
// short polls (WaitTimeSeconds 0) and takes the first lane that has messages; a lane found empty
// is skipped by the sweeps of the next 100 ms, so busy lower lanes cost no extra calls. When
// every lane is empty the loop long-polls one lane for a single message (loop i starts at lane i,
// rotating each round; 20 s with one lane, else `waitSeconds`, default 2), so parked loops hold
// one slot each: with at least as many loops as lanes every lane has a long poll waiting. A higher-priority message therefore waits at most
// ~100 ms behind a busy lower lane, or one long poll when every loop is parked on other lanes.
//
// Delays beyond SQS's 15 minutes: a message whose due time (attribute gtq_due) is still ahead
// when it arrives is sent again with the remaining delay (at most 15 min) and deleted, without
// being delivered, counted or holding a slot for longer than that.

const LANE_RECHECK_MS = 100;
const PARTIAL_LINGER_MS = 20;
const EARLY_TOLERANCE_MS = 1_000;

interface Lane {
  queue: string;
  lane: number;
  url: string;
  emptyUntil: number;
}

export class SqsSubscription implements Subscription {
  /** Deliveries handed out and not settled, and slots reserved by receives in flight. */
  private unsettled = 0;
  private reserved = 0;
  private active = true;
  private readonly abort = new AbortController();
  private slotWaiters: (() => void)[] = [];
  private loops: Promise<void>[] = [];
  private lanes: Lane[] = [];
  private readonly leaseSeconds: number;
  private readonly waitSeconds: number;

  constructor(
    private readonly ctx: SqsContext,
    private readonly queues: readonly string[],
    private readonly options: ConsumeOptions,
    private readonly onDelivery: (delivery: Delivery) => void,
  ) {
    this.leaseSeconds = Math.min(43_200, toSeconds(options.leaseMs));
    this.waitSeconds = ctx.options.waitSeconds ?? (ctx.options.lanes === 1 ? 20 : 2);
  }

  /** Creates every lane queue, then starts the loops. */
  async start(): Promise<void> {
    const lanes: Lane[] = [];
    for (let lane = this.ctx.options.lanes - 1; lane >= 0; lane--) {
      for (const queue of this.queues) lanes.push({ queue, lane, url: "", emptyUntil: 0 });
    }
    await Promise.all(
      lanes.map(async (l) => {
        l.url = await this.ctx.topology.laneUrl(l.queue, l.lane);
      }),
    );
    this.lanes = lanes;
    const forwarders = this.ctx.options.fifo
      ? await Promise.all(
          lanes.map(async (l) => ({
            ...l,
            url: await this.ctx.topology.delayUrl(l.queue, l.lane),
          })),
        )
      : [];
    const loops =
      this.ctx.options.receivers ??
      Math.min(32, Math.max(lanes.length, Math.ceil(this.options.prefetch / 10)));
    this.loops = [
      ...Array.from({ length: loops }, (_, i) => this.loop(i)),
      ...forwarders.map((delayLane) => this.forward(delayLane)),
    ];
  }

  async close(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.abort.abort();
    this.wake();
    await Promise.allSettled(this.loops);
  }

  private wake(): void {
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private readonly slot: DeliverySlot = {
    settled: (laneUrl: string): void => {
      this.unsettled--;
      // FIFO: a lane looked empty while its group was locked; the settle just unlocked it.
      if (this.ctx.options.fifo) {
        for (const lane of this.lanes) if (lane.url === laneUrl) lane.emptyUntil = 0;
      }
      this.wake();
    },
  };

  private free(): number {
    return this.options.prefetch - this.unsettled - this.reserved;
  }

  /** Waits until this loop may receive; resolves with the slots it reserved (0 once closed). */
  private async reserve(): Promise<number> {
    const full = Math.min(10, this.options.prefetch);
    let lingerUntil: number | undefined;
    for (;;) {
      if (!this.active) return 0;
      const free = this.free();
      let take = 0;
      if (free >= full) take = Math.min(10, free);
      else if (free > 0) {
        // A few slots free: wait up to 20 ms for a full batch (settles arrive one handler at a
        // time), rather than asking for 1, then 9, then 1 …
        const now = performance.now();
        lingerUntil ??= now + PARTIAL_LINGER_MS;
        if (now >= lingerUntil) take = free;
        else {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, (lingerUntil ?? now) - now);
            this.slotWaiters.push(() => {
              clearTimeout(timer);
              resolve();
            });
          });
          continue;
        }
      }
      if (take > 0) {
        this.reserved += take;
        return take;
      }
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
  }

  private async loop(index: number): Promise<void> {
    let failures = 0;
    let round = index;
    while (this.active) {
      const slots = await this.reserve();
      if (slots === 0) break;
      const reservation = { slots };
      let got: { lane: Lane; messages: Message[] } | undefined;
      try {
        got = await this.receiveRound(reservation, round++);
        failures = 0;
      } catch (error) {
        failures++;
        if (isQueueMissing(error)) await this.recreate().catch(() => undefined);
      } finally {
        this.reserved -= reservation.slots;
      }
      if (got) this.handle(got.lane, got.messages);
      this.wake();
      if (failures > 0 && this.active) {
        // The broker is unreachable: back off (0.2 s doubling to 5 s), then try again.
        await this.pause(Math.min(5_000, 200 * 2 ** Math.min(failures - 1, 5)));
      }
    }
  }

  /** Sleeps `ms`, or less when the subscription closes. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.abort.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async recreate(): Promise<void> {
    for (const l of this.lanes) {
      this.ctx.topology.invalidate(this.ctx.topology.names.lane(l.queue, l.lane));
      this.ctx.topology.invalidate(this.ctx.topology.names.deadLetters(l.queue));
    }
    await Promise.all(
      this.lanes.map(async (l) => {
        l.url = await this.ctx.topology.laneUrl(l.queue, l.lane);
      }),
    );
  }

  private async receiveRound(
    reservation: { slots: number },
    round: number,
  ): Promise<{ lane: Lane; messages: Message[] }> {
    const lanes = this.lanes;
    if (lanes.length > 1) {
      const now = this.ctx.now();
      for (const lane of lanes) {
        if (lane.emptyUntil > now) continue;
        // Claimed before the call: the other loops skip this lane meanwhile instead of all
        // asking at once; found non-empty, it is open again for everyone.
        lane.emptyUntil = now + LANE_RECHECK_MS;
        const messages = await this.receive(lane, reservation.slots, 0);
        if (messages.length > 0) {
          lane.emptyUntil = 0;
          return { lane, messages };
        }
      }
      // Every lane empty: park on one lane holding a single slot, so the other loops keep the
      // rest of the prefetch for whichever lane fills first.
      this.reserved -= reservation.slots - 1;
      reservation.slots = 1;
      this.wake();
    }
    const lane = lanes[round % lanes.length] as Lane;
    const messages = await this.receive(lane, reservation.slots, this.waitSeconds);
    if (messages.length > 0) lane.emptyUntil = 0;
    return { lane, messages };
  }

  private async receive(lane: Lane, max: number, waitSeconds: number): Promise<Message[]> {
    if (!this.active) return [];
    try {
      const out = await this.ctx.clients.polls.send(
        new ReceiveMessageCommand({
          QueueUrl: lane.url,
          MaxNumberOfMessages: max,
          WaitTimeSeconds: waitSeconds,
          VisibilityTimeout: this.leaseSeconds,
          MessageAttributeNames: ["All"],
          MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
        }),
        { abortSignal: this.abort.signal },
      );
      return out.Messages ?? [];
    } catch (error) {
      if (!this.active) return [];
      throw toDomainError(error, `receiving from ${lane.queue}`);
    }
  }

  private handle(lane: Lane, messages: Message[]): void {
    const now = this.ctx.now();
    for (const raw of messages) {
      const message = decodeMessage(raw);
      if (!this.active) {
        // Closed while this batch was on its way: back on the queue now (counts one receive).
        void this.ctx.clients.calls
          .send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: lane.url,
              ReceiptHandle: message.receiptHandle,
              VisibilityTimeout: 0,
            }),
          )
          .catch(() => undefined);
        continue;
      }
      if (message.dueAt !== undefined && message.dueAt > now + EARLY_TOLERANCE_MS) {
        void this.ctx
          .track(this.postpone(lane, message, message.dueAt - now))
          .catch(() => undefined);
        continue;
      }
      this.unsettled++;
      invokeCallback(
        this.onDelivery,
        new SqsDelivery(
          this.ctx,
          this.slot,
          lane.queue,
          lane.lane,
          lane.url,
          message,
          this.leaseSeconds,
        ),
      );
    }
  }

  /**
   * FIFO mode: moves due messages from a lane's standard delay companion into the FIFO lane
   * (send, then delete), and sends early ones back with their remaining delay. Never delivers.
   */
  private async forward(delayLane: Lane): Promise<void> {
    let failures = 0;
    while (this.active) {
      try {
        const messages = await this.receive(delayLane, 10, this.waitSeconds);
        failures = 0;
        await Promise.all(
          messages.map((raw) => {
            const message = decodeMessage(raw);
            const remaining = (message.dueAt ?? 0) - this.ctx.now();
            return this.ctx.track(
              this.postpone(delayLane, message, remaining > EARLY_TOLERANCE_MS ? remaining : 0),
            );
          }),
        );
      } catch (error) {
        if (!this.active) return;
        failures++;
        if (isQueueMissing(error)) {
          this.ctx.topology.invalidate(
            this.ctx.topology.names.delayLane(delayLane.queue, delayLane.lane),
          );
          delayLane.url = await this.ctx.topology
            .delayUrl(delayLane.queue, delayLane.lane)
            .catch(() => delayLane.url);
        }
        await this.pause(Math.min(5_000, 200 * 2 ** Math.min(failures, 5)));
      }
    }
  }

  /** Early: send it again with the remaining delay, then delete this copy (never run it). */
  private async postpone(
    lane: Lane,
    message: ReturnType<typeof decodeMessage>,
    remainingMs: number,
  ): Promise<void> {
    await this.ctx.sendToLane(lane.queue, lane.lane, [
      {
        id: message.id,
        text: message.text,
        attributes: resendAttributes(message, {
          prior: message.prior,
          dueAt: remainingMs > 0 ? message.dueAt : undefined,
        }),
        delaySeconds: remainingMs > 0 ? Math.min(900, Math.ceil(remainingMs / 1_000)) : 0,
      },
    ]);
    await this.ctx.deletes.add(lane.url, message.receiptHandle);
  }
}
