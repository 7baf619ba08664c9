import type { ScriptCaller } from "./connection.js";
import { GROUP, type QueueKeys } from "./keys.js";

// Settles (ack, retry, dead-letter, release, lease extension) requested in the same event-loop
// turn are sent as one `settle` script call per queue and consumer: a worker finishing 100 tasks
// in a tick costs one round trip, not 100. Each operation still gets its own answer (done /
// lease lost).

const MAX_PER_CALL = 1_000;

/** kind, lane, entry id, delivery count, a1, a2 (see SETTLE in scripts.ts). */
export type SettleArgs = [string, number, string, number, string | Buffer, string | number];

interface Op {
  args: SettleArgs;
  resolve: (held: boolean) => void;
  reject: (error: unknown) => void;
}

interface Batch {
  queue: string;
  consumer: string;
  ops: Op[];
}

export class SettleBatcher {
  private pending = new Map<string, Batch>();
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
  add(queue: string, consumer: string, args: SettleArgs): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const key = `${queue}\n${consumer}`;
      let batch = this.pending.get(key);
      if (!batch) {
        batch = { queue, consumer, ops: [] };
        this.pending.set(key, batch);
      }
      batch.ops.push({ args, resolve, reject });
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
    const batches = this.pending;
    this.pending = new Map();
    for (const { queue, consumer, ops } of batches.values()) {
      for (let i = 0; i < ops.length; i += MAX_PER_CALL) {
        this.send(queue, consumer, ops.slice(i, i + MAX_PER_CALL));
      }
    }
  }

  private send(queue: string, consumer: string, ops: Op[]): void {
    const args: (string | number | Buffer)[] = [GROUP, `${this.nonce}.${this.calls++}.`, consumer];
    const ranges = laneRanges(ops);
    args.push(ranges.length);
    for (const r of ranges) args.push(r.lane, r.low, r.high);
    for (const op of ops) {
      for (const arg of op.args) args.push(arg);
    }
    const call = this.scripts.gtqSettleBuffer(this.keysFor(queue).all, ...args).then(
      (reply) => {
        const results = reply as number[];
        for (let i = 0; i < ops.length; i++) ops[i]?.resolve(results[i] === 1);
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

interface LaneRange {
  lane: number;
  low: string;
  high: string;
  lowKey: [number, number];
  highKey: [number, number];
}

/** The lowest and highest entry id of the batch per lane: the script reads the pending list once per lane over that range. */
function laneRanges(ops: readonly Op[]): LaneRange[] {
  const byLane = new Map<number, LaneRange>();
  for (const { args } of ops) {
    const [, lane, entryId] = args;
    const dash = entryId.indexOf("-");
    const key: [number, number] = [Number(entryId.slice(0, dash)), Number(entryId.slice(dash + 1))];
    const range = byLane.get(lane);
    if (!range) {
      byLane.set(lane, { lane, low: entryId, high: entryId, lowKey: key, highKey: key });
      continue;
    }
    if (before(key, range.lowKey)) {
      range.low = entryId;
      range.lowKey = key;
    }
    if (before(range.highKey, key)) {
      range.high = entryId;
      range.highKey = key;
    }
  }
  return [...byLane.values()];
}

function before(a: [number, number], b: [number, number]): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}
