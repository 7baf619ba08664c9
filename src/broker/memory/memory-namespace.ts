import type {
  DeadLetterEntry,
  DeadLetterReason,
  DeadLetterSelector,
  OutgoingMessage,
  QueueStats,
} from "../broker.js";
import { DEFAULT_REVOCATION_RETENTION_MS, MemoryControl } from "./memory-control.js";
import { MemoryDeadLetters } from "./memory-dead-letters.js";
import { PriorityHeap } from "./priority-heap.js";
import { cancelTimer, startTimer, type TimerHandle } from "./timers.js";

// The memory broker's "server": every queue, lease, delay, DLQ and revocation of one namespace.
// Several broker clients can share one namespace (the conformance suite opens many to play
// several worker processes); closing a client leaves its leased messages leased until their
// lease expires, exactly as a real server that saw a consumer vanish would. Every operation is
// synchronous, so each state transition is atomic without locks. Timers drive delays and lease
// expiry; `now` only stamps times (dead-lettered at, revocation retention).

type EntryState = "delayed" | "ready" | "leased" | "gone";

/** One message in a queue. `priority` and `seq` never change, so heap positions stay valid. */
export interface Entry {
  readonly queue: QueueState;
  readonly id: string;
  readonly body: Uint8Array;
  readonly priority: number;
  readonly seq: number;
  state: EntryState;
  /** Still referenced by the ready heap (stale copies are skipped lazily when popped). */
  inHeap: boolean;
  deliveryCount: number;
  /** Identifies the current lease; a settle with an older token belongs to a lost lease. */
  token: number;
  timer: TimerHandle | undefined;
}

interface QueueState {
  readonly name: string;
  readonly heap: PriorityHeap<Entry>;
  ready: number;
  readonly leased: Set<Entry>;
  readonly delayed: Set<Entry>;
}

/** What the namespace needs from a subscription to hand it messages. */
export interface MemoryConsumer {
  readonly queues: readonly string[];
  readonly leaseMs: number;
  hasFreeSlot(): boolean;
  receive(entry: Entry, token: number): void;
}

const comesFirst = (a: Entry, b: Entry): boolean =>
  a.priority !== b.priority ? a.priority > b.priority : a.seq < b.seq;

export class MemoryNamespace {
  readonly now: () => number;
  private readonly queueStates = new Map<string, QueueState>();
  /** Queues published to or consumed from (stats of an unknown queue must not add it). */
  private readonly known = new Set<string>();
  private readonly consumers: MemoryConsumer[] = [];
  readonly control: MemoryControl;
  readonly deadLetters = new MemoryDeadLetters();
  private seq = 0;
  private tokens = 0;
  private rotation = 0;
  private dispatchScheduled = false;
  private closed = false;

  constructor(options: { now?: () => number; revocationRetentionMs?: number } = {}) {
    this.now = options.now ?? Date.now;
    this.control = new MemoryControl(
      this.now,
      options.revocationRetentionMs ?? DEFAULT_REVOCATION_RETENTION_MS,
    );
  }

  get isClosed(): boolean {
    return this.closed;
  }

  queue(name: string): QueueState {
    let state = this.queueStates.get(name);
    if (!state) {
      state = {
        name,
        heap: new PriorityHeap(comesFirst),
        ready: 0,
        leased: new Set(),
        delayed: new Set(),
      };
      this.queueStates.set(name, state);
    }
    return state;
  }

  queueNames(): string[] {
    return [...this.known].sort();
  }

  publish(queue: string, messages: readonly OutgoingMessage[]): void {
    this.known.add(queue);
    const state = this.queue(queue);
    for (const m of messages) {
      // Copied so that a caller reusing its buffer cannot change a message already "durable".
      this.enqueue(state, m.id, m.body.slice(), m.priority, m.delayMs, 0);
    }
  }

  private enqueue(
    state: QueueState,
    id: string,
    body: Uint8Array,
    priority: number,
    delayMs: number,
    deliveryCount: number,
  ): void {
    const entry: Entry = {
      queue: state,
      id,
      body,
      priority,
      seq: ++this.seq,
      state: "delayed",
      inHeap: false,
      deliveryCount,
      token: 0,
      timer: undefined,
    };
    if (delayMs > 0) {
      state.delayed.add(entry);
      entry.timer = startTimer(delayMs, () => {
        entry.timer = undefined;
        state.delayed.delete(entry);
        this.makeReady(entry);
      });
    } else {
      this.makeReady(entry);
    }
  }

  private makeReady(entry: Entry): void {
    entry.state = "ready";
    entry.queue.ready++;
    if (!entry.inHeap) {
      entry.inHeap = true;
      entry.queue.heap.push(entry);
    }
    this.wake();
  }

  // ---- dispatch -------------------------------------------------------------------------------

  addConsumer(consumer: MemoryConsumer): void {
    for (const q of consumer.queues) this.known.add(q);
    this.consumers.push(consumer);
    this.wake();
  }

  removeConsumer(consumer: MemoryConsumer): void {
    const i = this.consumers.indexOf(consumer);
    if (i >= 0) this.consumers.splice(i, 1);
  }

  /** Schedules one dispatch pass; many state changes in one tick share it. */
  wake(): void {
    if (this.dispatchScheduled || this.closed) return;
    this.dispatchScheduled = true;
    queueMicrotask(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  /** Round-robin, one message per consumer per round, so concurrent consumers share the work. */
  private dispatch(): void {
    let progressed = true;
    while (progressed && !this.closed) {
      progressed = false;
      const consumers = this.consumers.slice();
      const n = consumers.length;
      this.rotation = n === 0 ? 0 : (this.rotation + 1) % n;
      for (let k = 0; k < n; k++) {
        const consumer = consumers[(this.rotation + k) % n] as MemoryConsumer;
        if (!consumer.hasFreeSlot() || !this.consumers.includes(consumer)) continue;
        const entry = this.takeNext(consumer.queues);
        if (!entry) continue;
        this.lease(entry, consumer);
        progressed = true;
      }
    }
  }

  private takeNext(queues: readonly string[]): Entry | undefined {
    let best: QueueState | undefined;
    let bestEntry: Entry | undefined;
    for (const name of queues) {
      const state = this.queue(name);
      const head = this.readyHead(state);
      if (head && (!bestEntry || comesFirst(head, bestEntry))) {
        best = state;
        bestEntry = head;
      }
    }
    if (!best || !bestEntry) return undefined;
    best.heap.pop();
    bestEntry.inHeap = false;
    return bestEntry;
  }

  private readyHead(state: QueueState): Entry | undefined {
    for (;;) {
      const head = state.heap.peek();
      if (!head || head.state === "ready") return head;
      state.heap.pop();
      head.inHeap = false;
    }
  }

  private lease(entry: Entry, consumer: MemoryConsumer): void {
    entry.queue.ready--;
    entry.state = "leased";
    entry.deliveryCount++;
    const token = ++this.tokens;
    entry.token = token;
    entry.queue.leased.add(entry);
    this.armLease(entry, consumer.leaseMs);
    consumer.receive(entry, token);
  }

  private armLease(entry: Entry, ms: number): void {
    cancelTimer(entry.timer);
    entry.timer = startTimer(ms, () => {
      entry.timer = undefined;
      if (entry.state !== "leased") return;
      entry.queue.leased.delete(entry);
      // The token stays: until someone else claims the message, its holder may still settle it.
      this.makeReady(entry);
    });
  }

  // ---- settlement (each returns false when the lease was lost to another consumer) -------------

  private holds(entry: Entry, token: number): boolean {
    return entry.token === token && entry.state !== "gone";
  }

  private remove(entry: Entry): void {
    if (entry.state === "ready") entry.queue.ready--;
    entry.queue.leased.delete(entry);
    cancelTimer(entry.timer);
    entry.timer = undefined;
    entry.state = "gone";
    this.wake();
  }

  ack(entry: Entry, token: number): boolean {
    if (!this.holds(entry, token)) return false;
    this.remove(entry);
    return true;
  }

  retry(entry: Entry, token: number, nextBody: Uint8Array, delayMs: number): boolean {
    if (!this.holds(entry, token)) return false;
    this.remove(entry);
    this.enqueue(entry.queue, entry.id, nextBody.slice(), entry.priority, delayMs, 0);
    return true;
  }

  deadLetter(entry: Entry, token: number, reason: DeadLetterReason, detail: string): boolean {
    if (!this.holds(entry, token)) return false;
    this.remove(entry);
    this.deadLetters.add({
      id: entry.id,
      queue: entry.queue.name,
      body: entry.body,
      reason,
      detail,
      deadLetteredAt: this.now(),
    });
    return true;
  }

  release(entry: Entry, token: number): boolean {
    if (!this.holds(entry, token)) return false;
    // Not a failed delivery: the next delivery carries the same count as this one.
    entry.deliveryCount = Math.max(0, entry.deliveryCount - 1);
    if (entry.state === "leased") {
      entry.queue.leased.delete(entry);
      cancelTimer(entry.timer);
      entry.timer = undefined;
      this.makeReady(entry);
    }
    return true;
  }

  extendLease(entry: Entry, token: number, ms: number): boolean {
    if (!this.holds(entry, token)) return false;
    if (entry.state === "ready") {
      // Expired but unclaimed: the holder takes it back (its stale heap copy is skipped).
      entry.queue.ready--;
      entry.state = "leased";
      entry.queue.leased.add(entry);
    }
    this.armLease(entry, ms);
    return true;
  }

  // ---- dead letters ---------------------------------------------------------------------------

  requeueDeadLetters(
    queue: string,
    selector: DeadLetterSelector,
    rewrite: (entry: DeadLetterEntry) => OutgoingMessage,
  ): DeadLetterEntry[] {
    const { entries, remove } = this.deadLetters.select(queue, selector);
    // Rewrite everything before changing anything: a rewrite that throws (a message the broker
    // refuses) leaves the DLQ as it was.
    const messages = entries.map(rewrite);
    remove();
    this.publish(queue, messages);
    return entries;
  }

  // ---- observability and lifecycle ------------------------------------------------------------

  stats(queue: string): QueueStats {
    const state = this.queue(queue);
    return {
      queue,
      ready: state.ready,
      inFlight: state.leased.size,
      delayed: state.delayed.size,
      deadLettered: this.deadLetters.count(queue),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const state of this.queueStates.values()) {
      for (const entry of [...state.delayed, ...state.leased]) cancelTimer(entry.timer);
    }
    this.consumers.length = 0;
    this.control.clear();
  }
}
