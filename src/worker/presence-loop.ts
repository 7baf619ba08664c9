import type { ControlChannel, PresenceCommand } from "../broker/broker.js";
import type { Service } from "../core/lifecycle.js";
import type { Logger } from "../logging/logger.js";

// Tells the other workers, through the broker's control channel, that this worker is alive and
// which queues and function keys it serves: the first beat at start, then every `intervalMs`.
// Peers count it live for PRESENCE_TTL_INTERVALS intervals after a beat, so two lost beats in a
// row change nothing, and a restart within that time (a rolling deploy) does not make peers
// dead-letter the tasks only this worker knows. That is also why stopping sends no "leaving"
// beat. Best-effort: a failed beat is logged (once per streak) and the next one follows.

/** Beats a peer may miss before it stops counting as live. */
export const PRESENCE_TTL_INTERVALS = 3;

export class PresenceLoop implements Service {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failing = false;

  constructor(
    private readonly control: ControlChannel,
    private readonly beat: () => Omit<PresenceCommand, "type" | "ttlMs" | "at">,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async start(): Promise<void> {
    if (this.timer || this.stopped) return;
    await this.send();
    this.timer = setInterval(() => void this.send(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops beating. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async send(): Promise<void> {
    if (this.stopped) return;
    const command: PresenceCommand = {
      type: "presence",
      ...this.beat(),
      ttlMs: this.intervalMs * PRESENCE_TTL_INTERVALS,
      at: this.now(),
    };
    try {
      await this.control.broadcast(command);
      if (this.failing) this.logger.info({ event: "presence_resumed" }, "presence beats resumed");
      this.failing = false;
    } catch (err) {
      if (!this.failing) {
        this.logger.warn(
          { event: "presence_failed", err },
          "could not send a presence beat; other workers may dead-letter tasks only this worker runs",
        );
      }
      this.failing = true;
    }
  }
}
