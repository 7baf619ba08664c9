import type { GoTaskQError } from "../../core/errors.js";
import type { BrokerLimits } from "../broker.js";
import { GuardedDelivery, type SettleOp } from "../guarded-delivery.js";
import type { SettleArgs, SettleBatcher } from "./settle-batcher.js";

// A delivery of the Redis broker: a pending entry of one lane, held by one consumer with one
// pending-list delivery count (the lease token the settle script checks). Every operation goes
// through the settle batcher; GuardedDelivery applies the seam's rules around it.

/** What a delivery needs of its subscription. */
export interface DeliverySource {
  readonly consumer: string;
  readonly leaseMs: number;
  readonly limits: BrokerLimits;
  readonly settler: SettleBatcher;
  closedError(): GoTaskQError | undefined;
  settled(): void;
}

export interface Taken {
  queue: string;
  lane: number;
  entryId: string;
  id: string;
  body: Uint8Array;
  /** Deliveries of earlier entries of this message (before a release). */
  prior: number;
  /** The pending list's delivery counter of this entry: the lease token. */
  count: number;
}

export class RedisDelivery extends GuardedDelivery {
  readonly id: string;
  readonly queue: string;
  readonly body: Uint8Array;
  readonly deliveryCount: number;

  constructor(
    private readonly subscription: DeliverySource,
    private readonly taken: Taken,
  ) {
    super(subscription.limits);
    this.id = taken.id;
    this.queue = taken.queue;
    this.body = taken.body;
    this.deliveryCount = taken.prior + taken.count;
  }

  protected perform(op: SettleOp): Promise<boolean> {
    const t = this.taken;
    const head = [t.lane, t.entryId, t.count] as const;
    let args: SettleArgs;
    switch (op.kind) {
      case "ack":
        args = ["a", ...head, "", ""];
        break;
      case "retry":
        args = [
          "r",
          ...head,
          Buffer.from(op.body.buffer, op.body.byteOffset, op.body.byteLength),
          op.delayMs,
        ];
        break;
      case "deadLetter":
        args = ["d", ...head, op.reason, op.detail];
        break;
      case "release":
        args = ["l", ...head, "", ""];
        break;
      case "extendLease":
        // The entry becomes claimable once idle for the claimer's leaseMs: setting its idle time
        // to leaseMs − ms leaves `ms` to run (an extension longer than the lease gives one lease).
        args = ["e", ...head, String(Math.max(0, this.subscription.leaseMs - op.ms)), ""];
        break;
    }
    return this.subscription.settler.add(t.queue, this.subscription.consumer, args);
  }

  protected closedError(): GoTaskQError | undefined {
    return this.subscription.closedError();
  }

  protected slotFreed(): void {
    this.subscription.settled();
  }
}
