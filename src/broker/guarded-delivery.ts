import type { GoTaskQError } from "../core/errors.js";
import {
  type BrokerLimits,
  type DeadLetterReason,
  type Delivery,
  LeaseLostError,
} from "./broker.js";
import {
  alreadySettled,
  checkBody,
  checkDeadLetterReason,
  checkDelay,
  checkLeaseMs,
} from "./validation.js";

// The rules every adapter's `Delivery` shares, written once so they cannot drift apart: argument
// checks, "settle once", "closed client rejects with unavailable", "a lost lease rejects with
// LeaseLostError except for release", and freeing the prefetch slot on the settle call (not when
// the backend answers, and not when a lease expires). An adapter only says how to perform an
// operation and whether its lease still held.

export type SettleOp =
  | { kind: "ack" }
  | { kind: "retry"; body: Uint8Array; delayMs: number }
  | { kind: "deadLetter"; reason: DeadLetterReason; detail: string }
  | { kind: "release" }
  | { kind: "extendLease"; ms: number };

// The argument-free operations, shared by every delivery instead of one object per settle call
// (every task is acked once). Frozen: an adapter reads an op, it never changes it.
const ACK: { readonly kind: "ack" } = Object.freeze({ kind: "ack" });
const RELEASE: { readonly kind: "release" } = Object.freeze({ kind: "release" });

export abstract class GuardedDelivery implements Delivery {
  abstract readonly id: string;
  abstract readonly queue: string;
  abstract readonly body: Uint8Array;
  abstract readonly deliveryCount: number;
  private settledBy: string | undefined;

  constructor(private readonly limits: BrokerLimits) {}

  /** Performs `op` on the backend; resolves false when another consumer holds the lease now. */
  protected abstract perform(op: SettleOp): Promise<boolean>;
  /** The error to reject with when the client was closed, else undefined. */
  protected abstract closedError(): GoTaskQError | undefined;
  /** Called once, on the first settle call: the subscription's prefetch slot is free again. */
  protected abstract slotFreed(): void;

  ack(): Promise<void> {
    return this.settle(ACK);
  }

  retry(nextBody: Uint8Array, delayMs: number): Promise<void> {
    return this.settle({ kind: "retry", body: nextBody, delayMs }, () => {
      checkBody(this.limits, this.id, nextBody);
      checkDelay(this.limits, this.id, delayMs);
    });
  }

  deadLetter(reason: DeadLetterReason, detail: string): Promise<void> {
    return this.settle({ kind: "deadLetter", reason, detail: String(detail) }, () => {
      checkDeadLetterReason(reason);
    });
  }

  release(): Promise<void> {
    return this.settle(RELEASE);
  }

  extendLease(ms: number): Promise<void> {
    try {
      checkLeaseMs(ms);
      this.ensureUsable();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.perform({ kind: "extendLease", ms }).then((held) => {
      if (!held) throw this.lost("extendLease");
    });
  }

  private settle(
    op: Exclude<SettleOp, { kind: "extendLease" }>,
    check?: () => void,
  ): Promise<void> {
    try {
      check?.();
      this.ensureUsable();
    } catch (error) {
      return Promise.reject(error);
    }
    this.settledBy = op.kind;
    this.slotFreed();
    return this.perform(op).then((held) => {
      // A release whose lease was lost already happened: the message is available to others.
      if (!held && op.kind !== "release") throw this.lost(op.kind);
    });
  }

  private ensureUsable(): void {
    const closed = this.closedError();
    if (closed) throw closed;
    if (this.settledBy) throw alreadySettled(this.id, this.settledBy);
  }

  private lost(how: string): LeaseLostError {
    return new LeaseLostError(
      `${how} of message ${this.id} in queue ${this.queue} was ignored: its lease expired and another consumer took the message (extend the lease before it runs out)`,
    );
  }
}
