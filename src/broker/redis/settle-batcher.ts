import { outcomeUnknown, type ScriptCaller } from "./connection.js";
import { GROUP, type QueueKeys } from "./keys.js";

// Settles (ack, retry, dead-letter, release, lease extension) requested in the same event-loop
// turn are sent as one `settle` script call per queue and consumer: a worker finishing 100 tasks
// in a tick costs one round trip, not 100. Each operation still gets its own answer (done /
// lease lost).
//
// Lost replies. A call written to a connection that then drops may or may not have been applied
// (connection.ts `outcomeUnknown`). Failing it would be wrong when it was applied: the worker
// records an outcome only after a confirmed settle, and an applied settle is never redelivered,
// so the task's tracking record would stay STARTED for good. Such a call is therefore sent again
// (same operations, same nonce) as soon as the connection is back, for up to
// RESEND_WINDOW_MS; the script answers 2 for an entry no longer in its lane, which on a resend
// means the first send was applied (done). What a resend can meet:
// - the first send was not applied and the entry is still ours: it is applied now (1);
// - the first send was applied: the entry is gone (2 → done);
// - the lease ran out meanwhile and another consumer claimed the entry: 0, lease lost, which is
//   the truth (the other consumer runs the task again and reports it);
// - another consumer claimed it and also settled it before the resend: 2, read as done although
//   the settle that removed it may be the other consumer's. The message is settled either way,
//   nothing is lost or published twice (a settle only acts on an entry its caller holds). For an
//   ack that is fine: this attempt did succeed, and the other run reports its own outcome of the
//   same attempt. For a retry or dead-letter the worker's record can be wrong (a PENDING next
//   attempt that was never published, a FAILURE the DLQ does not hold). It needs the lease to run
//   out and a whole second run to finish before a resend that goes out the moment Redis answers
//   again, so it is rare; telling the two apart would cost a write on every settle.
// Lease extensions are not resent: the lease keeper sends the next one within leaseMs/3 anyway,
// and a late resend would only hold up that one (it allows one extension in flight at a time).
// Calls refused before they were sent (Redis away) fail at once, as every command does.

const MAX_PER_CALL = 1_000;
const DONE = 1;
/** The entry is no longer in its lane: settled already (SETTLE in scripts.ts). */
const GONE = 2;
/**
 * How long a call whose reply was lost is resent for (ms), from its failure. Not the lease: a
 * resend after the lease has run out still gets a true answer (see above), and the wait costs
 * the caller nothing but a pending promise (the prefetch slot was freed when it asked to
 * settle); 30 s covers a Redis restart or a failover. After that the call fails as before.
 */
export const RESEND_WINDOW_MS = 30_000;

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

export interface SettleBatcherOptions {
  scripts: ScriptCaller;
  keysFor: (queue: string) => QueueKeys;
  /** Unique to this client: prefixes the nonce of every call (delayed-set members). */
  nonce: string;
  /** Redis errors as domain errors. */
  translate: (error: unknown) => unknown;
  /** Resolves once the connection is ready; rejects after `timeoutMs`, or once `signal` aborts. */
  whenOnline: (timeoutMs: number, signal: AbortSignal) => Promise<void>;
  /** Default RESEND_WINDOW_MS. */
  resendWindowMs?: number;
}

export class SettleBatcher {
  private pending = new Map<string, Batch>();
  private readonly inFlight = new Set<Promise<void>>();
  private scheduled = false;
  private calls = 0;
  /** Aborted by drain: resends still waiting for the connection give up. */
  private readonly closing = new AbortController();
  private readonly resendWindowMs: number;

  constructor(private readonly options: SettleBatcherOptions) {
    this.resendWindowMs = options.resendWindowMs ?? RESEND_WINDOW_MS;
  }

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

  /**
   * Sends what is pending now and waits for every call in flight (used by close). Resends still
   * waiting for Redis to come back give up (their operations fail): closing must not wait out an
   * outage.
   */
  async drain(): Promise<void> {
    if (this.scheduled) this.flush();
    this.closing.abort();
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
    const keys = this.options.keysFor(queue).all;
    const nonce = `${this.options.nonce}.${this.calls++}.`;
    const call = this.options.scripts.gtqSettleBuffer(keys, ...callArgs(nonce, consumer, ops)).then(
      (reply) => answer(ops, reply as number[], false),
      (error: unknown) =>
        outcomeUnknown(error)
          ? this.resend(keys, nonce, consumer, ops, error)
          : this.fail(ops, error),
    );
    this.inFlight.add(call);
    void call.finally(() => this.inFlight.delete(call));
  }

  /** The call's reply was lost (`lost`): sends it again once Redis is back, within the window. */
  private async resend(
    keys: readonly string[],
    nonce: string,
    consumer: string,
    ops: readonly Op[],
    lost: unknown,
  ): Promise<void> {
    const kept = ops.filter((op) => op.args[0] !== "e");
    if (kept.length < ops.length)
      this.fail(
        ops.filter((op) => op.args[0] === "e"),
        lost,
      );
    if (kept.length === 0) return;
    const args = callArgs(nonce, consumer, kept);
    const deadline = Date.now() + this.resendWindowMs;
    let error = lost;
    while (outcomeUnknown(error) && Date.now() < deadline) {
      try {
        await this.options.whenOnline(deadline - Date.now(), this.closing.signal);
      } catch {
        break; // not back in time (or closing): fail with what the call met
      }
      try {
        answer(kept, (await this.options.scripts.gtqSettleBuffer(keys, ...args)) as number[], true);
        return;
      } catch (failed) {
        error = failed;
      }
    }
    this.fail(kept, error);
  }

  private fail(ops: readonly Op[], error: unknown): void {
    const translated = this.options.translate(error);
    for (const op of ops) op.reject(translated);
  }
}

/** ARGV of one settle call (see SETTLE in scripts.ts). */
function callArgs(
  nonce: string,
  consumer: string,
  ops: readonly Op[],
): (string | number | Buffer)[] {
  const args: (string | number | Buffer)[] = [GROUP, nonce, consumer];
  const ranges = laneRanges(ops);
  args.push(ranges.length);
  for (const r of ranges) args.push(r.lane, r.low, r.high);
  for (const op of ops) {
    for (const arg of op.args) args.push(arg);
  }
  return args;
}

/** Resolves each operation with its result: done, or (on a resend) settled by the first send. */
function answer(ops: readonly Op[], results: readonly number[], resent: boolean): void {
  for (let i = 0; i < ops.length; i++) {
    const result = results[i];
    ops[i]?.resolve(result === DONE || (resent && result === GONE));
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
