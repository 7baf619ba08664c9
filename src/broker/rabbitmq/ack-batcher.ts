import type { Channel, Message } from "amqplib";

// Acks of one channel, grouped. AMQP acks have no reply, so many can be sent as one frame with
// `multiple` (it acks every outstanding delivery up to its tag). The batcher collects the acks
// of one turn of the event loop and sends a single `multiple` ack for the run of consecutive tags
// it completes, and a plain ack for each acked delivery beyond a still-unsettled one (waiting
// for the gap to close could hold an ack back for as long as a long task runs: on a crash that
// task's neighbours would run again). It belongs to one channel: when the channel dies, its
// pending acks resolve false (dropped: the broker redelivers those messages) and nothing is
// ever sent on a newer channel.

const UNSENT = 0;
const SENT = 1;

export class AckBatcher {
  /** Lowest delivery tag not yet known to be acked (tags are 1, 2, 3, … per channel). */
  private lowest = 1;
  private readonly acked = new Map<number, typeof UNSENT | typeof SENT>();
  private waiters: Array<(sent: boolean) => void> = [];
  private scheduled = false;
  alive = true;

  constructor(private readonly channel: Channel) {}

  /** Resolves true once the ack is written, false if the channel died first. */
  ack(tag: number): Promise<boolean> {
    if (!this.alive) return Promise.resolve(false);
    this.acked.set(tag, UNSENT);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The channel died: nothing more is sent; pending acks resolve false. */
  kill(): void {
    this.alive = false;
    this.acked.clear();
    for (const resolve of this.waiters.splice(0)) resolve(false);
  }

  private flush(): void {
    this.scheduled = false;
    const waiters = this.waiters;
    this.waiters = [];
    if (!this.alive) {
      for (const resolve of waiters) resolve(false);
      return;
    }
    let sent = true;
    try {
      let top = 0;
      while (this.acked.has(this.lowest)) {
        if (this.acked.get(this.lowest) === UNSENT) top = this.lowest;
        this.acked.delete(this.lowest);
        this.lowest++;
      }
      // Every tag below `top` is acked (sent before, or in this frame): `multiple` is safe, and
      // `top` itself is still outstanding on the broker, as `multiple` requires.
      if (top > 0) this.channel.ack(tagged(top), true);
      for (const [tag, state] of this.acked) {
        if (state === UNSENT) {
          this.channel.ack(tagged(tag), false);
          this.acked.set(tag, SENT);
        }
      }
    } catch {
      // The channel closed under us (amqplib throws synchronously): its close handler kills us.
      sent = false;
    }
    for (const resolve of waiters) resolve(sent);
  }
}

function tagged(deliveryTag: number): Message {
  return { fields: { deliveryTag } } as unknown as Message;
}
