import { randomInt } from "node:crypto";
import type Database from "better-sqlite3";
import type { GoTaskQError } from "../../core/errors.js";
import type { OutgoingMessage } from "../broker.js";
import type { SettleOp } from "../guarded-delivery.js";
import { type ClaimedRow, Claimer } from "./claim.js";
import { toDomainError } from "./errors.js";
import { PeerWriteWatcher } from "./peer-writes.js";
import { MessageWriter } from "./publish.js";
import { Settler } from "./settle.js";

// The write loop: the only place this process writes messages. Publishes and settles are
// queued and flushed together on the next tick (setImmediate) in ONE BEGIN IMMEDIATE
// transaction, which then also claims work for every subscription with free slots; each promise
// resolves after the commit. So a worker acking 50 tasks and getting 50 new ones pays one commit,
// not 100, and the write lock is held for a fraction of a millisecond at a time.
//
// When to tick: at once when this process published, settled or subscribed (its own work is
// visible at once); again at once after a claim that filled every free slot (more may be
// waiting); when another process commits to the file while some subscription has free slots
// (peer-writes.ts); otherwise, while some subscription has free slots, every `pollIntervalMs`
// (default 50 ms) or sooner when a delayed message or a lease falls due, to see other processes'
// work where file notifications do not reach.
// Idle polls first ask a cheap read (WAL readers take no lock) and only take the write lock when
// there is something to claim. Nothing is scheduled while every subscription is full or none
// exists, and nothing at all after `close`.

export interface LoopSubscription {
  readonly queues: readonly string[];
  readonly leaseMs: number;
  freeSlots(): number;
  /** Hands claimed rows to the consumer; `token` is their lease token. */
  deliver(rows: readonly ClaimedRow[], token: number): void;
}

interface PendingPublish {
  queue: string;
  messages: readonly OutgoingMessage[];
  resolve: () => void;
  reject: (error: GoTaskQError) => void;
}

interface PendingSettle {
  seq: number;
  token: number;
  op: SettleOp;
  resolve: (held: boolean) => void;
  reject: (error: GoTaskQError) => void;
}

interface Claim {
  subscription: LoopSubscription;
  rows: ClaimedRow[];
  token: number;
  /** Every free slot was filled: more may be waiting. */
  full: boolean;
}

/** Lease tokens: a random per-process prefix so two processes never mint the same token. */
const TOKEN_COUNTER_SPAN = 2 ** 21;

export class WriteLoop {
  private readonly writer: MessageWriter;
  private readonly claimer: Claimer;
  private readonly settler: Settler;
  private readonly write: Database.Transaction<(work: () => void) => void>;
  private readonly subscriptions: LoopSubscription[] = [];
  private publishes: PendingPublish[] = [];
  private settles: PendingSettle[] = [];
  private immediate: NodeJS.Immediate | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly tokenPrefix = randomInt(1, 2 ** 31) * TOKEN_COUNTER_SPAN;
  private tokenCounter = 0;
  private stopped = false;
  private readonly peers: PeerWriteWatcher;

  constructor(
    db: Database.Database,
    private readonly file: string,
    private readonly now: () => number,
    private readonly pollIntervalMs: number,
  ) {
    this.writer = new MessageWriter(db);
    this.claimer = new Claimer(db);
    this.settler = new Settler(db, this.writer);
    this.write = db.transaction((work: () => void) => work());
    this.peers = new PeerWriteWatcher(file, () => {
      if (this.subscriptions.some((s) => s.freeSlots() > 0)) this.wake();
    });
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  publish(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.publishes.push({ queue, messages, resolve, reject });
      this.wake();
    });
  }

  /** Resolves with whether the lease still held (false: another consumer owns the row now). */
  settle(seq: number, token: number, op: SettleOp): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.settles.push({ seq, token, op, resolve, reject });
      this.wake();
    });
  }

  add(subscription: LoopSubscription): void {
    this.subscriptions.push(subscription);
    this.peers.start();
    this.wake();
  }

  remove(subscription: LoopSubscription): void {
    const index = this.subscriptions.indexOf(subscription);
    if (index >= 0) this.subscriptions.splice(index, 1);
    if (this.subscriptions.length === 0) this.peers.stop();
  }

  /** Ticks as soon as the current I/O phase ends. */
  wake(): void {
    if (this.immediate || this.stopped) return;
    this.immediate = setImmediate(this.tick);
  }

  /** Flushes what was queued before the call, then stops every timer. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.peers.stop();
    if (this.immediate) clearImmediate(this.immediate);
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.immediate = undefined;
    this.pollTimer = undefined;
    this.subscriptions.length = 0;
    this.flush([]);
  }

  private readonly tick = (): void => {
    this.immediate = undefined;
    if (this.pollTimer) {
      clearTimeout(this.pollTimer);
      this.pollTimer = undefined;
    }
    if (this.stopped) return;
    const hungry = this.subscriptions.filter((s) => s.freeSlots() > 0);
    if (this.publishes.length === 0 && this.settles.length === 0) {
      if (hungry.length === 0) return;
      if (!this.probe(hungry)) {
        this.poll(hungry);
        return;
      }
    }
    const claims = this.flush(hungry);
    if (this.stopped) return;
    // A claim that filled its slots suggests more is waiting; a short one means the queues are
    // drained for now and the next work comes from a settle, a publish or a poll.
    const starving = this.subscriptions.filter((s) => s.freeSlots() > 0);
    if (starving.length === 0) return;
    if (claims?.some((c) => c.full)) this.wake();
    else this.poll(starving);
  };

  /** One transaction: queued publishes, queued settles, then claims for `hungry`. */
  private flush(hungry: readonly LoopSubscription[]): Claim[] | undefined {
    const publishes = this.publishes;
    const settles = this.settles;
    this.publishes = [];
    this.settles = [];
    if (publishes.length === 0 && settles.length === 0 && hungry.length === 0) return [];
    const now = this.now();
    const outcomes: boolean[] = [];
    let claims: Claim[] = [];
    try {
      this.write.immediate(() => {
        for (const p of publishes) this.writer.insertBatch(p.queue, p.messages, now);
        for (const s of settles) outcomes.push(this.settler.apply(s.seq, s.token, s.op, now));
        if (hungry.length > 0) claims = this.claim(hungry, now);
      });
    } catch (error) {
      const failure = toDomainError(error, this.file);
      for (const p of publishes) p.reject(failure);
      for (const s of settles) s.reject(failure);
      // Claims were rolled back with everything else; try again at the next poll.
      if (!this.stopped && hungry.length > 0) this.poll(hungry);
      return undefined;
    }
    for (const p of publishes) p.resolve();
    settles.forEach((s, i) => {
      s.resolve(outcomes[i] === true);
    });
    for (const c of claims) c.subscription.deliver(c.rows, c.token);
    return claims;
  }

  /** Inside the write transaction: promote due rows, then fill each subscription's free slots. */
  private claim(hungry: readonly LoopSubscription[], now: number): Claim[] {
    this.claimer.promote(uniqueQueues(hungry), now);
    const claims: Claim[] = [];
    for (const subscription of hungry) {
      const free = subscription.freeSlots();
      const token = this.nextToken();
      const leaseUntil = now + subscription.leaseMs;
      const rows = this.claimer.claim(subscription.queues, free, leaseUntil, token);
      if (rows.length > 0) claims.push({ subscription, rows, token, full: rows.length === free });
    }
    return claims;
  }

  /** Cheap read-only check before taking the write lock for an idle poll. */
  private probe(hungry: readonly LoopSubscription[]): boolean {
    try {
      const now = this.now();
      return hungry.some((s) => this.claimer.hasWork(s.queues, now));
    } catch {
      // Let the write transaction run into the same problem and report it properly.
      return true;
    }
  }

  private poll(hungry: readonly LoopSubscription[]): void {
    if (this.pollTimer || this.immediate || this.stopped) return;
    let delay = this.pollIntervalMs;
    try {
      const due = this.claimer.nextDueAt(uniqueQueues(hungry));
      // Plus a random part of the interval: every process waiting for the same due row wakes
      // at the same moment, and without it the one that scheduled first (the one that wrote the
      // row, e.g. a worker handing a task back for another) would always win the claim.
      if (due !== undefined) {
        const jitter = randomInt(0, Math.max(1, Math.floor(this.pollIntervalMs / 2)));
        delay = Math.min(delay, Math.max(1, due - this.now()) + jitter);
      }
    } catch {
      // Keep the plain interval; the next tick reports any lasting failure.
    }
    this.pollTimer = setTimeout(this.tick, delay);
  }

  private nextToken(): number {
    this.tokenCounter = (this.tokenCounter + 1) % TOKEN_COUNTER_SPAN;
    return this.tokenPrefix + this.tokenCounter;
  }
}

function uniqueQueues(subscriptions: readonly LoopSubscription[]): readonly string[] {
  const [only] = subscriptions;
  if (only && subscriptions.length === 1) return only.queues;
  return [...new Set(subscriptions.flatMap((s) => s.queues))];
}
