import { RingBuffer } from "./ring-buffer.js";
import type { TaskEvent, TaskLogLine, WorkerHeartbeat } from "./tracking-store.js";

// The best-effort writer's memory: bounded, and careful about what it gives up first.
// - Task events and log lines share one bound (`maxItems`). When it is reached the oldest log
//   line goes first, and an event only when no log line is left: a chatty handler must not push
//   the status changes of every other task out of the buffer.
// - Heartbeats are kept per worker, the latest only (an older one is worthless once a newer
//   exists), so they need no bound of their own: one per worker of this process.

export interface TrackingBatch {
  events: TaskEvent[];
  logs: TaskLogLine[];
  heartbeats: WorkerHeartbeat[];
}

export class TrackingBuffer {
  readonly #maxItems: number;
  readonly #onDrop: (count: number) => void;
  readonly #events = new RingBuffer<TaskEvent>();
  readonly #logs = new RingBuffer<TaskLogLine>();
  readonly #heartbeats = new Map<string, WorkerHeartbeat>();

  constructor(maxItems: number, onDrop: (count: number) => void) {
    this.#maxItems = maxItems;
    this.#onDrop = onDrop;
  }

  /** Everything buffered, heartbeats included. */
  get size(): number {
    return this.#events.length + this.#logs.length + this.#heartbeats.size;
  }

  /** Events and log lines: what a batch is sized by. */
  get items(): number {
    return this.#events.length + this.#logs.length;
  }

  addEvent(event: TaskEvent): void {
    this.#makeRoom(1);
    this.#events.push(event);
  }

  addLog(line: TaskLogLine): void {
    this.#makeRoom(1);
    this.#logs.push(line);
  }

  addHeartbeat(heartbeat: WorkerHeartbeat): void {
    this.#heartbeats.set(heartbeat.workerId, heartbeat);
  }

  /** The buffered events of one task, oldest first (a scan: for reads that missed the store). */
  eventsOf(taskId: string): TaskEvent[] {
    const out: TaskEvent[] = [];
    for (const event of this.#events) if (event.taskId === taskId) out.push(event);
    return out;
  }

  /** Up to `maxItems` events and log lines (events first, oldest first) and every heartbeat. */
  take(maxItems: number): TrackingBatch {
    const events = this.#events.take(maxItems);
    const logs = this.#logs.take(maxItems - events.length);
    const heartbeats = [...this.#heartbeats.values()];
    this.#heartbeats.clear();
    return { events, logs, heartbeats };
  }

  /** Returns unwritten events to the front (they are the oldest), evicting if over the bound. */
  putBackEvents(events: readonly TaskEvent[]): void {
    this.#events.unshiftAll(events);
    this.#makeRoom(0);
  }

  putBackLogs(lines: readonly TaskLogLine[]): void {
    this.#logs.unshiftAll(lines);
    this.#makeRoom(0);
  }

  putBackHeartbeats(heartbeats: readonly WorkerHeartbeat[]): void {
    // A newer heartbeat recorded meanwhile replaces the one that failed.
    for (const hb of heartbeats) {
      if (!this.#heartbeats.has(hb.workerId)) this.#heartbeats.set(hb.workerId, hb);
    }
  }

  /** Empties the buffer; returns how many items were in it. */
  clear(): number {
    const size = this.size;
    this.#events.clear();
    this.#logs.clear();
    this.#heartbeats.clear();
    return size;
  }

  #makeRoom(incoming: number): void {
    let dropped = 0;
    while (this.items + incoming > this.#maxItems && this.items > 0) {
      if (this.#logs.length > 0) this.#logs.shift();
      else this.#events.shift();
      dropped += 1;
    }
    if (dropped > 0) this.#onDrop(dropped);
  }
}
