import type { Delivery, OutgoingMessage } from "../broker.js";

// Test plumbing for the broker conformance suite (named `.case.ts` so the build leaves it out):
// an inbox that collects deliveries and lets a test await the next one with a deadline, and a
// poll-until for conditions that have no event (stats converging, a set filling up). Every wait
// is bounded so a broken broker fails a case with a message instead of hanging the run.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const text = (value: string): Uint8Array => encoder.encode(value);
export const read = (body: Uint8Array): string => decoder.decode(body);

export class Inbox {
  readonly received: Delivery[] = [];
  private readonly pending: Delivery[] = [];
  private waiter: ((delivery: Delivery) => void) | undefined;

  /** Pass as the `onDelivery` callback. */
  readonly push = (delivery: Delivery): void => {
    this.received.push(delivery);
    if (this.waiter) {
      const resolve = this.waiter;
      this.waiter = undefined;
      resolve(delivery);
    } else {
      this.pending.push(delivery);
    }
  };

  /** The next delivery not yet taken, or a rejection naming `what` after `timeoutMs`. */
  next(timeoutMs: number, what = "a delivery"): Promise<Delivery> {
    const ready = this.pending.shift();
    if (ready) return Promise.resolve(ready);
    if (this.waiter) throw new Error("Inbox.next: only one waiter at a time");
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiter = (delivery) => {
        clearTimeout(timer);
        resolve(delivery);
      };
    });
  }

  /** Resolves with no delivery if none arrives within `ms`; used to assert an absence. */
  async nothingWithin(ms: number): Promise<Delivery | undefined> {
    try {
      return await this.next(ms);
    } catch {
      return undefined;
    }
  }
}

export { pollUntil } from "../../../test/support/poll-until.js";

/** A deterministic pseudo-random sequence (LCG) so failures reproduce. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 4_294_967_296;
  };
}

/** An outgoing message whose body is its id unless given. */
export function message(
  id: string,
  options: { body?: string; priority?: number; delayMs?: number } = {},
): OutgoingMessage {
  return {
    id,
    body: text(options.body ?? id),
    priority: options.priority ?? 5,
    delayMs: options.delayMs ?? 0,
  };
}
