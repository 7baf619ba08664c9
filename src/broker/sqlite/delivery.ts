import { type GoTaskQError, UnavailableError } from "../../core/errors.js";
import type { BrokerLimits, ConsumeOptions, Delivery, Subscription } from "../broker.js";
import { GuardedDelivery, type SettleOp } from "../guarded-delivery.js";
import { invokeCallback } from "../validation.js";
import type { ClaimedRow } from "./claim.js";
import type { LoopSubscription, WriteLoop } from "./write-loop.js";

// A subscription and its deliveries. The subscription counts unsettled deliveries to tell the
// write loop how many rows it may claim (never more than prefetch); a delivery is a claimed row
// (seq) plus its lease token, and every settle goes through the write loop's next transaction.

export class SqliteSubscription implements LoopSubscription, Subscription {
  private unsettled = 0;
  private active = true;

  constructor(
    private readonly loop: WriteLoop,
    readonly limits: BrokerLimits,
    readonly queues: readonly string[],
    private readonly options: ConsumeOptions,
    private readonly onDelivery: (delivery: Delivery) => void,
  ) {}

  get leaseMs(): number {
    return this.options.leaseMs;
  }

  get writeLoop(): WriteLoop {
    return this.loop;
  }

  freeSlots(): number {
    return this.active ? this.options.prefetch - this.unsettled : 0;
  }

  deliver(rows: readonly ClaimedRow[], token: number): void {
    for (const row of rows) {
      if (!this.active) {
        // Closed by a callback while this batch was being handed out: give the rest back now
        // rather than leaving them invisible until their lease ends.
        this.loop.settle(row.seq, token, { kind: "release" }).catch(() => {});
        continue;
      }
      this.unsettled++;
      invokeCallback(this.onDelivery, new SqliteDelivery(this, row, token));
    }
  }

  settled(): void {
    this.unsettled--;
    this.loop.wake();
  }

  async close(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.loop.remove(this);
  }
}

class SqliteDelivery extends GuardedDelivery {
  readonly id: string;
  readonly queue: string;
  readonly body: Uint8Array;
  readonly deliveryCount: number;
  private readonly seq: number;

  constructor(
    private readonly subscription: SqliteSubscription,
    row: ClaimedRow,
    private readonly token: number,
  ) {
    super(subscription.limits);
    this.id = row.id;
    this.queue = row.queue;
    this.body = row.body;
    this.deliveryCount = row.delivery_count;
    this.seq = row.seq;
  }

  protected perform(op: SettleOp): Promise<boolean> {
    return this.subscription.writeLoop.settle(this.seq, this.token, op);
  }

  protected closedError(): GoTaskQError | undefined {
    return this.subscription.writeLoop.isStopped
      ? new UnavailableError("sqlite broker is closed")
      : undefined;
  }

  protected slotFreed(): void {
    this.subscription.settled();
  }
}
