import type { Delivery } from "../broker/broker.js";
import type { TaskEnvelope } from "../core/envelope.js";
import type { SettleDeps } from "./attempt.js";
import type { Peers } from "./peers.js";
import { settleSafely } from "./settlement.js";

// A delivery names a function this worker does not register. When another live worker that
// consumes the delivery's queue registers it, or this worker is still too young to have heard
// every peer's first beat (so a restart does not dead-letter work), the message goes back to the
// broker unchanged: `retry` with the same body, so the attempt is not counted, the delivery count
// starts again, and nothing is recorded in tracking (the task simply stays PENDING until the
// peer runs it). Only when no live worker runs it is it dead-lettered as `unknown_function`.
//
// No busy loop: each hand-back waits `baseDelayMs` to twice that (jitter), times a factor that
// grows with how many tasks this worker handed back in the last second per slot (capped at
// MAX_PACE): a worker sharing a queue with a backlog of another worker's tasks slows its own
// churn through them instead of republishing each one every second.

/** Largest multiple of the base delay the pacing reaches (30 × 1 s by default). */
const MAX_PACE = 30;
const PACE_WINDOW_MS = 1_000;

export interface HandBackOptions {
  peers: Peers;
  /** When this worker started consuming (epoch ms); 0 before it did. */
  startedAt: () => number;
  /** While younger than this (ms), a key no known peer runs is handed back all the same. */
  youngMs: number;
  baseDelayMs: number;
  /** The worker's slots: the pace factor is hand-backs per second per slot. */
  concurrency: number;
  now: () => number;
  random: () => number;
}

export class HandBack {
  private windowStart = 0;
  private inWindow = 0;
  private lastWindow = 0;

  constructor(private readonly o: HandBackOptions) {}

  /** Why this delivery goes back to the broker, or undefined: no live worker runs it. */
  reason(queue: string, functionKey: string): string | undefined {
    const peer = this.o.peers.runnerOf(queue, functionKey);
    if (peer !== undefined) return `worker ${peer} runs it`;
    if (this.o.now() - this.o.startedAt() < this.o.youngMs) {
      return "this worker started too recently to know every live worker";
    }
    return undefined;
  }

  /** The delay of the next hand-back (ms). */
  delayMs(): number {
    const now = this.o.now();
    if (now - this.windowStart >= PACE_WINDOW_MS) {
      this.lastWindow = now - this.windowStart < 2 * PACE_WINDOW_MS ? this.inWindow : 0;
      this.windowStart = now;
      this.inWindow = 0;
    }
    this.inWindow++;
    const pace = Math.min(
      MAX_PACE,
      1 + Math.max(this.inWindow, this.lastWindow) / this.o.concurrency,
    );
    return Math.round(this.o.baseDelayMs * pace * (1 + this.o.random()));
  }

  /** Gives the delivery back unchanged after `delayMs()`; nothing thrown, nothing tracked. */
  settle(deps: SettleDeps, delivery: Delivery, envelope: TaskEnvelope, why: string): Promise<void> {
    const delayMs = Math.min(this.delayMs(), deps.maxDelayMs);
    return settleSafely(deps, "hand back", envelope.id, () =>
      delivery.retry(delivery.body, delayMs),
    ).then((done) => {
      if (done && deps.logger.isLevelEnabled("debug")) {
        deps.logger.debug(
          {
            event: "handed_back",
            task_id: envelope.id,
            function_key: envelope.function_key,
            queue: delivery.queue,
            delay_ms: delayMs,
            reason: why,
          },
          "task handed back: its function is not registered on this worker",
        );
      }
    });
  }
}
