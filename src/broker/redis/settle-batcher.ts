import type { ScriptCaller } from "./connection.js";
import { GROUP, type QueueKeys } from "./keys.js";

// Settles (ack, retry, dead-letter, release, lease extension) requested in the same event-loop
// turn are sent as one `settle` script call per queue: a worker finishing 200 tasks in a tick
// costs one round trip, not 200. Each operation still gets its own answer (done / lease lost).

const MAX_PER_CALL = 1_000;

/** kind, lane, entry id, consumer, delivery count, a1, a2 (see SETTLE in scripts.ts). */
export type SettleArgs = [string, number, string, string, number, string | Buffer, string | number];

interface Op {
  args: SettleArgs;
  resolve: (held: boolean) => void;
  reject: (error: unknown) => void;
}

export class SettleBatcher {
  private readonly pending = new Map<string, Op[]>();
  private readonly inFlight = new Set<Promise<void>>();
  private scheduled = false;
  private calls = 0;

  constructor(
    private readonly scripts: ScriptCaller,
    private readonly keysFor: (queue: string) => QueueKeys,
    private readonly nonce: string,
    private readonly translate: (error: unknown) => unknown,
  ) {}

  /** Resolves true when done, false when the lease was lost. */
  add(queue: string, args: SettleArgs): Promise<boolean> {
    return new Promise((resolve, reject) => {
      let ops = this.pending.get(queue);
      if (!ops) {
        ops = [];
        this.pending.set(queue, ops);
      }
      ops.push({ args, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Sends what is pending now and waits for every call in flight (used by close). */
  async drain(): Promise<void> {
    if (this.scheduled) this.flush();
    await Promise.allSettled([...this.inFlight]);
  }

  private flush(): void {
    this.scheduled = false;
    const batches = [...this.pending];
    this.pending.clear();
    for (const [queue, ops] of batches) {
      for (let i = 0; i < ops.length; i += MAX_PER_CALL) {
        this.send(queue, ops.slice(i, i + MAX_PER_CALL));
      }
    }
  }

  private send(queue: string, ops: Op[]): void {
    const args: (string | number | Buffer)[] = [GROUP, `${this.nonce}.${this.calls++}.`];
    for (const op of ops) args.push(...op.args, "");
    const call = this.scripts.gtqSettleBuffer(this.keysFor(queue).all, ...args).then(
      (reply) => {
        const results = reply as number[];
        ops.forEach((op, i) => {
          op.resolve(results[i] === 1);
        });
      },
      (error: unknown) => {
        const translated = this.translate(error);
        for (const op of ops) op.reject(translated);
      },
    );
    this.inFlight.add(call);
    void call.finally(() => this.inFlight.delete(call));
  }
}
