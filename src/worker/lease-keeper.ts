import { performance } from "node:perf_hooks";
import type { Delivery } from "../broker/broker.js";

// Keeps running deliveries invisible to other consumers: each lease is pushed `leaseMs` into the
// future at most leaseMs/3 after its previous extension, so two extensions can fail in a row (a
// broker hiccup) before the message is redelivered elsewhere. A failed extension is reported,
// never thrown: the handler keeps running, and if the lease really was lost the broker
// redelivers (at-least-once).
//
// One timer serves every delivery the worker holds (up to `concurrency`; a timer each cost more
// than the extensions themselves). It ticks every leaseMs/12 while anything is held and extends
// the leases that fall due before the next tick, so an extension comes early by at most a tick,
// never late.

/** A delivery whose lease is being kept; give it back to `release`. */
export interface HeldLease {
  readonly delivery: Delivery;
}

interface Held extends HeldLease {
  /** `performance.now()` by which the next extension must have started. */
  dueAt: number;
  /** One extension at a time: a slow broker must not pile up extension calls. */
  extending: boolean;
  /** Its slot in `held`, or -1 once released (a second release is a no-op). */
  slot: number;
}

export class LeaseKeeper {
  // An array with swap-remove, each entry knowing its slot, rather than a Set: every task adds
  // and removes one entry, and a Set hashes each fresh object on its first insertion.
  private readonly held: Held[] = [];
  private readonly everyMs: number;
  private readonly tickMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly leaseMs: number,
    private readonly onError: (delivery: Delivery, error: unknown) => void,
  ) {
    this.everyMs = Math.max(1, Math.floor(leaseMs / 3));
    this.tickMs = Math.max(1, Math.floor(leaseMs / 12));
  }

  /** Extends `delivery`'s lease every leaseMs/3 until `release`. */
  hold(delivery: Delivery): HeldLease {
    const held: Held = {
      delivery,
      dueAt: performance.now() + this.everyMs,
      extending: false,
      slot: this.held.length,
    };
    this.held.push(held);
    if (this.timer === undefined) {
      this.timer = setInterval(this.tick, this.tickMs);
      // The consume subscription keeps the process alive; the lease timer alone must not.
      this.timer.unref();
    }
    return held;
  }

  /** Stops extending; the timer stops with the last held delivery. */
  release(lease: HeldLease): void {
    const held = lease as Held;
    if (held.slot < 0) return;
    const last = this.held.pop() as Held;
    if (last !== held) {
      this.held[held.slot] = last;
      last.slot = held.slot;
    }
    held.slot = -1;
    if (this.held.length === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private readonly tick = (): void => {
    const now = performance.now();
    const horizon = now + this.tickMs;
    for (const held of this.held) {
      if (held.extending || held.dueAt > horizon) continue;
      held.extending = true;
      held.dueAt = now + this.everyMs;
      held.delivery.extendLease(this.leaseMs).then(
        () => {
          held.extending = false;
        },
        (error: unknown) => {
          held.extending = false;
          this.onError(held.delivery, error);
        },
      );
    }
  };
}
