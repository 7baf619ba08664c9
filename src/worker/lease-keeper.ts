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
}

export class LeaseKeeper {
  private readonly held = new Set<Held>();
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
    const held: Held = { delivery, dueAt: performance.now() + this.everyMs, extending: false };
    this.held.add(held);
    if (this.timer === undefined) {
      this.timer = setInterval(this.tick, this.tickMs);
      // The consume subscription keeps the process alive; the lease timer alone must not.
      this.timer.unref();
    }
    return held;
  }

  /** Stops extending; the timer stops with the last held delivery. */
  release(lease: HeldLease): void {
    this.held.delete(lease as Held);
    if (this.held.size === 0 && this.timer !== undefined) {
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
