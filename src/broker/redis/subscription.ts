import type { GoTaskQError } from "../../core/errors.js";
import type { BrokerLimits, ConsumeOptions, Delivery, Subscription } from "../broker.js";
import { invokeCallback } from "../validation.js";
import { type RedisClient, type ScriptCaller, whenReady } from "./connection.js";
import { type DeliverySource, RedisDelivery, type Taken } from "./delivery.js";
import { GROUP, type QueueKeys } from "./keys.js";
import type { SettleArgs, SettleBatcher } from "./settle-batcher.js";

// One subscription's fetch loop. Each round asks every queue's `take` script for at most the
// free slots (prefetch − unsettled − slots promised to rounds in flight), so Redis never hands
// this consumer more than it may hold, and priorities are exact per take. Two rounds run at once
// so Redis prepares the next batch while the handlers run. When a take finds less than it could
// carry, the loop blocks in XREAD on the lanes (after the group's last-delivered ids) and the wake stream, on a
// connection of its own, until new work arrives, the next delayed message is due, or the next
// reclaim pass is due — then takes again. XREAD does not consume, so blocking can never
// over-deliver; the take script stays the only way a message is handed out.
//
// Redis Streams has no visibility timeout: XAUTOCLAIM with min-idle = leaseMs plays that role.
// A pending entry's idle time is its lease clock, reset by an extension (XCLAIM … IDLE … JUSTID,
// not a delivery). A reclaim pass runs every leaseMs/4 (20 ms–5 s) while slots are free, so a
// dead consumer's entries come back between leaseMs and 1.25 × leaseMs after its last extension.

const MAX_BLOCK_MS = 2_000;
const CLUSTER_MULTI_QUEUE_BLOCK_MS = 100;
/** Takes in flight at once per subscription. */
const MAX_ROUNDS = 2;
const PRUNE_EVERY_MS = 60_000;
/** A consumer holding nothing and silent for this long belonged to a process that is gone. */
const PRUNE_IDLE_MS = 10 * 60_000;

export interface SubscriptionContext {
  scripts: ScriptCaller;
  keysFor(queue: string): QueueKeys;
  settler: SettleBatcher;
  limits: BrokerLimits;
  /** In a Cluster one XREAD can only watch keys of one slot, i.e. one queue. */
  cluster: boolean;
  /** A new connection for blocking reads, already connecting. */
  openBlocker(): RedisClient;
  /** undefined while the client is open; the error to reject settles with once closed. */
  closedError(): GoTaskQError | undefined;
  /** Reports a failed fetch turn (Redis away); called once per outage, and on recovery. */
  report(message: string): void;
}

/** What a round that found less than it could carry saw: where to block for new work. */
interface Watch {
  keys: string[];
  ids: string[];
  /** Until the earliest delayed message is due (ms), or Infinity. */
  untilDueMs: number;
}

export class RedisSubscription implements Subscription, DeliverySource {
  private unsettled = 0;
  /** Slots promised to takes still in flight. */
  private reserved = 0;
  private rounds = 0;
  private active = true;
  private watch: Watch | undefined;
  private waiter: (() => void) | undefined;
  private readonly blocker: RedisClient;
  private readonly reclaimEveryMs: number;
  private nextReclaimAt = 0;
  private nextPruneAt = Date.now() + PRUNE_EVERY_MS;
  private failing = false;
  private pausedUntil = 0;
  private readonly done: Promise<void>;

  constructor(
    private readonly context: SubscriptionContext,
    private readonly queues: readonly string[],
    private readonly options: ConsumeOptions,
    private readonly onDelivery: (delivery: Delivery) => void,
    readonly consumer: string,
  ) {
    this.reclaimEveryMs = Math.min(5_000, Math.max(20, Math.floor(options.leaseMs / 4)));
    this.blocker = context.openBlocker();
    this.done = this.run();
  }

  get leaseMs(): number {
    return this.options.leaseMs;
  }

  get settler(): SettleBatcher {
    return this.context.settler;
  }

  get limits(): BrokerLimits {
    return this.context.limits;
  }

  closedError(): GoTaskQError | undefined {
    return this.context.closedError();
  }

  settled(): void {
    this.unsettled--;
    this.notify();
  }

  async close(): Promise<void> {
    if (!this.active) return this.done;
    this.active = false;
    this.blocker.disconnect();
    this.notify();
    await this.done;
    if (this.context.closedError()) return;
    // Forget this consumer where it holds nothing (best effort; pruning catches the rest).
    await Promise.allSettled(
      this.queues.map((queue) =>
        this.context.scripts.gtqPruneBuffer(
          this.context.keysFor(queue).all,
          GROUP,
          PRUNE_IDLE_MS,
          this.consumer,
        ),
      ),
    );
  }

  private notify(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /**
   * The fetch loop. Up to MAX_ROUNDS takes are in flight at once, each for at most half the
   * prefetch, so Redis prepares the next batch while this process works on the last one; their
   * sizes are reserved against the free slots, so the prefetch bound holds. A round that comes
   * back short means the queues are empty: once no round is in flight, the loop blocks in XREAD.
   */
  private async run(): Promise<void> {
    let rotation = 0;
    while (this.active) {
      if (this.watch && this.rounds === 0) {
        const watch = this.watch;
        this.watch = undefined;
        await this.block(watch).catch((error: unknown) => this.failed(error));
        continue;
      }
      const free = this.options.prefetch - this.unsettled - this.reserved;
      const paused = Date.now() < this.pausedUntil;
      if (free <= 0 || this.rounds >= MAX_ROUNDS || this.watch || paused) {
        await new Promise<void>((resolve) => {
          this.waiter = resolve;
          if (paused) setTimeout(resolve, this.pausedUntil - Date.now());
        });
        // A slot is freed by a settle, which is sent on the next check phase: taking after it
        // keeps the order on the connection (a reclaim must not see an ack still waiting to be
        // sent) and lets the slots freed in the same turn share one take.
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      const budget = Math.min(free, Math.ceil(this.options.prefetch / MAX_ROUNDS));
      this.reserved += budget;
      this.rounds++;
      this.round(budget, rotation++)
        .then(
          (watch) => {
            if (watch) this.watch = watch;
            if (this.failing) {
              this.failing = false;
              this.context.report(`consumer ${this.consumer} reconnected and resumed`);
            }
          },
          (error: unknown) => this.failed(error),
        )
        .finally(() => {
          this.reserved -= budget;
          this.rounds--;
          this.notify();
        });
    }
    while (this.rounds > 0) {
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  private failed(error: unknown): void {
    if (!this.active) return;
    this.pausedUntil = Date.now() + 250;
    if (this.failing) return;
    this.failing = true;
    this.context.report(
      `consumer ${this.consumer} cannot fetch (${error instanceof Error ? error.message : String(error)}); retrying until Redis answers`,
    );
  }

  /** Takes up to `budget` messages over the queues; returns where to block if they had fewer. */
  private async round(budget: number, rotation: number): Promise<Watch | undefined> {
    const now = Date.now();
    const reclaim = now >= this.nextReclaimAt;
    if (reclaim) this.nextReclaimAt = now + this.reclaimEveryMs;
    if (now >= this.nextPruneAt) this.prune(now);
    let wanted = budget;
    const watch: Watch = { keys: [], ids: [], untilDueMs: Number.POSITIVE_INFINITY };
    for (let k = 0; k < this.queues.length && wanted > 0; k++) {
      const queue = this.queues[(rotation + k) % this.queues.length] as string;
      const keys = this.context.keysFor(queue);
      const [taken, ids, nextDue, serverNow] = (await this.context.scripts.gtqTakeBuffer(
        keys.all,
        GROUP,
        this.consumer,
        wanted,
        reclaim ? this.options.leaseMs : 0,
      )) as [TakenLanes, Buffer[], number, number];
      const entries = decodeTaken(queue, taken);
      if (!this.active) {
        this.giveBack(queue, entries);
        return undefined;
      }
      wanted -= entries.length;
      for (const entry of entries) {
        this.unsettled++;
        invokeCallback(this.onDelivery, new RedisDelivery(this, entry));
      }
      if (ids.length === 11) {
        watch.keys.push(...keys.lanes, keys.wake);
        for (const id of ids) watch.ids.push(id.toString());
      }
      if (nextDue >= 0) watch.untilDueMs = Math.min(watch.untilDueMs, nextDue - serverNow);
    }
    return wanted > 0 && watch.keys.length > 0 ? watch : undefined;
  }

  /** Sleeps in XREAD until new work, the next due delayed message, or the next reclaim pass. */
  private async block(watch: Watch): Promise<void> {
    let { keys, ids } = watch;
    let maxMs = MAX_BLOCK_MS;
    if (this.context.cluster && keys.length > 11) {
      // Watch one queue's keys and come back soon for the others.
      keys = keys.slice(0, 11);
      ids = ids.slice(0, 11);
      maxMs = CLUSTER_MULTI_QUEUE_BLOCK_MS;
    }
    const waitMs = Math.min(maxMs, watch.untilDueMs, this.nextReclaimAt - Date.now());
    if (waitMs < 1 || !this.active) return;
    if (this.blocker.status !== "ready") await whenReady(this.blocker, 3_000, "blocking reads");
    await this.blocker.xread("COUNT", 1, "BLOCK", Math.ceil(waitMs), "STREAMS", ...keys, ...ids);
  }

  private prune(now: number): void {
    this.nextPruneAt = now + PRUNE_EVERY_MS;
    for (const queue of this.queues) {
      this.context.scripts
        .gtqPruneBuffer(this.context.keysFor(queue).all, GROUP, PRUNE_IDLE_MS, "")
        .catch(() => {});
    }
  }

  /** Closed while a take was in flight: hand its messages back at once, uncounted. */
  private giveBack(queue: string, entries: readonly Taken[]): void {
    for (const t of entries) {
      const args: SettleArgs = ["l", t.lane, t.entryId, t.count, "", ""];
      this.context.settler.add(queue, this.consumer, args).catch(() => {});
    }
  }
}

/** The take script's reply: per lane read, its number, delivery counts ([] = all 1) and entries. */
type TakenLanes = (number | number[] | [Buffer, Buffer[]][])[];

function decodeTaken(queue: string, lanes: TakenLanes): Taken[] {
  const out: Taken[] = [];
  for (let i = 0; i + 2 < lanes.length; i += 3) {
    const lane = lanes[i] as number;
    const counts = lanes[i + 1] as number[];
    const entries = lanes[i + 2] as [Buffer, Buffer[]][];
    for (let j = 0; j < entries.length; j++) {
      const [entryId, fields] = entries[j] as [Buffer, Buffer[]];
      let id = "";
      let body: Buffer | undefined;
      let prior = 0;
      for (let f = 0; f + 1 < fields.length; f += 2) {
        // Field names are one byte: i(d), b(ody), n (earlier deliveries).
        const name = fields[f]?.[0];
        const value = fields[f + 1] as Buffer;
        if (name === 0x69) id = value.toString();
        else if (name === 0x62) body = value;
        else if (name === 0x6e) prior = Number(value.toString());
      }
      out.push({
        queue,
        lane,
        entryId: entryId.toString(),
        id,
        body: body
          ? new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
          : new Uint8Array(0),
        prior,
        count: counts[j] ?? 1,
      });
    }
  }
  return out;
}
