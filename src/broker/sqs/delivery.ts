import { GoTaskQError, UnavailableError } from "../../core/errors.js";
import type { Delivery } from "../broker.js";
import { GuardedDelivery, type SettleOp } from "../guarded-delivery.js";
import type { ItemResult } from "./batcher.js";
import {
  deadLetterAttributes,
  encodeMessage,
  type ReceivedMessage,
  resendAttributes,
} from "./codec.js";
import { MAX_VISIBLE_MS, type SqsContext, toSeconds } from "./context.js";
import { isHandleGone } from "./sdk.js";

// One received SQS message. SQS gives each receive its own receipt handle and forgets the old one
// once the message is received again, which is exactly "the lease was lost": a settle or an
// extension whose handle SQS refuses rejects with LeaseLostError. Because SQS may accept a stale
// handle's delete without deleting (AWS documents this), a settle whose lease may have run out
// first re-secures it with ChangeMessageVisibility, which SQS refuses for a stale handle; only
// then does it delete. A lease that expired unclaimed is therefore kept when SQS still accepts
// the handle; when SQS has already put the message back on the queue it counts as lost (the
// task runs again: at-least-once).
// - ack: DeleteMessage (batched).  - retry / deadLetter: send the next attempt / DLQ copy, then
//   delete.  - release: re-send the message as is with its delivery count carried in an
//   attribute (a visibility reset would count a receive), then delete.
// - extendLease: ChangeMessageVisibility (batched), refused beyond 12 h after the receive.

/** Settles with less lease left than this first re-secure the lease (ms). */
const SECURE_MARGIN_MS = 2_000;

export interface DeliverySlot {
  /** The delivery's prefetch slot is free again; `laneUrl` names the queue it came from. */
  settled(laneUrl: string): void;
}

export class SqsDelivery extends GuardedDelivery implements Delivery {
  readonly id: string;
  readonly body: Uint8Array;
  readonly deliveryCount: number;
  private deadline: number;
  private readonly receivedAt: number;
  private slotHeld = false;

  constructor(
    private readonly ctx: SqsContext,
    private readonly slot: DeliverySlot,
    readonly queue: string,
    private readonly lane: number,
    private readonly url: string,
    private readonly message: ReceivedMessage,
    private readonly leaseSeconds: number,
  ) {
    super(ctx.limits);
    this.id = message.id;
    this.body = message.body;
    this.deliveryCount = message.prior + message.receiveCount;
    this.receivedAt = ctx.now();
    this.deadline = this.receivedAt + leaseSeconds * 1_000;
  }

  protected closedError(): GoTaskQError | undefined {
    return this.ctx.isClosed() ? new UnavailableError("sqs broker client is closed") : undefined;
  }

  /**
   * A settle whose lease may have run out keeps its slot until the lease is re-secured: freeing
   * it first would let this subscription's next receive race the re-secure and take the message
   * back from itself (SQS makes an expired message visible when anyone receives).
   */
  protected slotFreed(): void {
    // FIFO lanes: the message group stays locked until the delete lands, so a receive before
    // then would find the lane empty and take a lower lane's message out of order.
    if (this.ctx.options.fifo || this.ctx.now() >= this.deadline - SECURE_MARGIN_MS) {
      this.slotHeld = true;
    } else this.slot.settled(this.url);
  }

  private freeHeldSlot(): void {
    if (!this.slotHeld) return;
    this.slotHeld = false;
    this.slot.settled(this.url);
  }

  protected perform(op: SettleOp): Promise<boolean> {
    const work = this.run(op);
    work.then(
      () => this.freeHeldSlot(),
      () => this.freeHeldSlot(),
    );
    return this.ctx.track(work);
  }

  private async run(op: SettleOp): Promise<boolean> {
    const handle = this.message.receiptHandle;
    switch (op.kind) {
      case "extendLease":
        return this.extend(toSeconds(op.ms));
      case "ack":
        if (!(await this.secure())) return false;
        return this.outcome(await this.ctx.deletes.add(this.url, handle), "ack");
      case "retry": {
        if (!(await this.secure())) return false;
        const next = encodeMessage(this.id, op.body, this.dueFields(op.delayMs));
        await this.ctx.sendToLane(this.queue, this.lane, [
          { id: this.id, ...next, delaySeconds: this.delaySeconds(op.delayMs) },
        ]);
        return this.outcome(await this.ctx.deletes.add(this.url, handle), "retry");
      }
      case "deadLetter": {
        if (!(await this.secure())) return false;
        const copy = encodeMessage(this.id, this.body);
        copy.attributes = {
          ...copy.attributes,
          ...deadLetterAttributes(this.queue, op.reason, op.detail, this.ctx.now()),
        };
        await this.ctx.sendToDeadLetters(this.queue, [{ id: this.id, ...copy, delaySeconds: 0 }]);
        return this.outcome(await this.ctx.deletes.add(this.url, handle), "deadLetter");
      }
      case "release": {
        if (!(await this.secure())) return false;
        await this.ctx.sendToLane(this.queue, this.lane, [
          {
            id: this.id,
            text: this.message.text,
            attributes: resendAttributes(this.message, { prior: this.deliveryCount - 1 }),
            delaySeconds: 0,
          },
        ]);
        return this.outcome(await this.ctx.deletes.add(this.url, handle), "release");
      }
    }
  }

  private dueFields(delayMs: number): { dueAt?: number } {
    return delayMs > 900_000 ? { dueAt: this.ctx.now() + delayMs } : {};
  }

  private delaySeconds(delayMs: number): number {
    return delayMs <= 0 ? 0 : Math.min(900, Math.ceil(delayMs / 1_000));
  }

  private async extend(seconds: number): Promise<boolean> {
    const now = this.ctx.now();
    if (now + seconds * 1_000 > this.receivedAt + MAX_VISIBLE_MS) {
      throw new GoTaskQError(
        "deadline_exceeded",
        `task ${this.id} has run for ${Math.round((now - this.receivedAt) / 60_000)} min: SQS cannot hide a message for more than 12 hours after it was received, so its lease cannot be extended (keep tasks on SQS under 11 h 55 min, e.g. split the work)`,
      );
    }
    const result = await this.ctx.visibility.add(this.url, {
      receiptHandle: this.message.receiptHandle,
      seconds,
    });
    if (!result.ok) return this.outcome(result, "extendLease");
    this.deadline = now + seconds * 1_000;
    return true;
  }

  /** True when this receive still holds the message with time to settle; false when lost. */
  private async secure(): Promise<boolean> {
    if (this.ctx.now() < this.deadline - SECURE_MARGIN_MS) return true;
    const seconds = Math.max(this.leaseSeconds, 30);
    if (this.ctx.now() + seconds * 1_000 > this.receivedAt + MAX_VISIBLE_MS) return true;
    try {
      return await this.extend(seconds);
    } finally {
      this.freeHeldSlot();
    }
  }

  private outcome(result: ItemResult, what: string): boolean {
    if (result.ok) return true;
    if (isHandleGone(result.code)) return false;
    throw new GoTaskQError(
      "internal",
      `sqs broker: ${what} of message ${this.id} failed: ${result.code}: ${result.message}`,
    );
  }
}
