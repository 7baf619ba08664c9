import type { Channel, Message } from "amqplib";

// Acks of one channel, grouped. AMQP acks have no reply, so many can be sent as one frame with
// `multiple` (it acks every outstanding delivery up to its tag). The batcher collects the acks
// of one turn of the event loop and sends a single `multiple` ack for the run of consecutive tags
// they complete. An ack beyond a still-unsettled delivery waits for the gap to close, but at most
// STRAGGLER_MS, then goes out alone: a long task must not hold back its neighbours' acks (on a
// crash they would run again). It belongs to one channel: when the channel dies, its pending acks
// resolve false (dropped: the broker redelivers those messages) and nothing is ever sent on a
// newer channel.

const STRAGGLER_MS = 20;

export class AckBatcher {
  /** Lowest delivery tag not yet acked (tags are 1, 2, 3, … per channel). */
  private lowest = 1;
  /** Acked by the caller, not yet sent: tag → resolves the caller's promise. */
  private readonly unsent = new Map<number, (sent: boolean) => void>();
  /** Sent alone (beyond a gap): skipped when the run of consecutive tags reaches them. */
  private readonly sentAlone = new Set<number>();
  private scheduled = false;
  private stragglerTimer: NodeJS.Timeout | undefined;
  alive = true;

  constructor(private readonly channel: Channel) {}

  /** Resolves true once the ack is written, false if the channel died first. */
  ack(tag: number): Promise<boolean> {
    if (!this.alive) return Promise.resolve(false);
    const done = new Promise<boolean>((resolve) => this.unsent.set(tag, resolve));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return done;
  }

  /** Gives one delivery back to its queue (nack with requeue), at once. */
  requeue(tag: number): void {
    if (!this.alive) return;
    try {
      this.channel.nack({ fields: { deliveryTag: tag } } as unknown as Message, false, true);
      // Settled for the run of consecutive tags: a later `multiple` ack may pass over it.
      this.sentAlone.add(tag);
    } catch {
      // The channel closed under us: the broker requeues the message anyway.
    }
  }

  /** The channel died: nothing more is sent; pending acks resolve false. */
  kill(): void {
    this.alive = false;
    clearTimeout(this.stragglerTimer);
    this.stragglerTimer = undefined;
    for (const resolve of this.unsent.values()) resolve(false);
    this.unsent.clear();
    this.sentAlone.clear();
  }

  private flush(): void {
    this.scheduled = false;
    if (!this.alive) return;
    let top = 0;
    const resolved: Array<(sent: boolean) => void> = [];
    for (;;) {
      const resolve = this.unsent.get(this.lowest);
      if (resolve) {
        this.unsent.delete(this.lowest);
        resolved.push(resolve);
        top = this.lowest;
      } else if (!this.sentAlone.delete(this.lowest)) {
        break;
      }
      this.lowest++;
    }
    // Every tag below `top` is acked (alone before, or by this frame), and `top` itself is still
    // outstanding on the broker, as `multiple` requires.
    if (top > 0) this.send(top, true, resolved);
    if (this.unsent.size > 0 && this.stragglerTimer === undefined) {
      this.stragglerTimer = setTimeout(() => this.sendStragglers(), STRAGGLER_MS);
    }
  }

  private sendStragglers(): void {
    this.stragglerTimer = undefined;
    if (!this.alive) return;
    for (const [tag, resolve] of this.unsent) {
      this.unsent.delete(tag);
      this.sentAlone.add(tag);
      this.send(tag, false, [resolve]);
    }
  }

  private send(tag: number, multiple: boolean, resolved: Array<(sent: boolean) => void>): void {
    let sent = true;
    try {
      this.channel.ack({ fields: { deliveryTag: tag } } as unknown as Message, multiple);
    } catch {
      // The channel closed under us (amqplib throws synchronously): its close handler kills us.
      sent = false;
    }
    for (const resolve of resolved) resolve(sent);
  }
}
