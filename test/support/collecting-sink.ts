import type { TrackingSink } from "../../src/tracking/tracking-sink.js";
import type { TaskEvent, TaskLogLine, WorkerHeartbeat } from "../../src/tracking/tracking-store.js";

// A TrackingSink that keeps everything it is given, in order, and lets a test await the event it
// expects instead of sleeping. It is a sink, not a fake store: no merging, no reads by workers.

interface Waiter {
  ready: () => boolean;
  resolve: () => void;
}

export class CollectingSink implements TrackingSink {
  readonly events: TaskEvent[] = [];
  readonly logs: TaskLogLine[] = [];
  readonly heartbeats: WorkerHeartbeat[] = [];
  private waiters: Waiter[] = [];

  record(event: TaskEvent): void {
    this.events.push(event);
    this.check();
  }

  log(line: TaskLogLine): void {
    this.logs.push(line);
    this.check();
  }

  heartbeat(heartbeat: WorkerHeartbeat): void {
    this.heartbeats.push(heartbeat);
    this.check();
  }

  eventsOf(taskId: string): TaskEvent[] {
    return this.events.filter((e) => e.taskId === taskId);
  }

  /** "STATUS@run.attempt" for each event of the task, in arrival order. */
  trail(taskId: string): string[] {
    return this.eventsOf(taskId).map((e) => `${e.status}@${e.run}.${e.attempt}`);
  }

  /** The first event of `taskId` with `status` (at `attempt`, when given), once it exists. */
  async waitForStatus(
    taskId: string,
    status: TaskEvent["status"],
    options: { attempt?: number; run?: number; timeoutMs?: number } = {},
  ): Promise<TaskEvent> {
    const find = () =>
      this.events.find(
        (e) =>
          e.taskId === taskId &&
          e.status === status &&
          (options.attempt === undefined || e.attempt === options.attempt) &&
          (options.run === undefined || e.run === options.run),
      );
    await this.waitUntil(() => find() !== undefined, `${status} of ${taskId}`, options.timeoutMs);
    return find() as TaskEvent;
  }

  /** Resolves once `ready()` holds; rejects after `timeoutMs` naming what never happened. */
  waitUntil(ready: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        ready,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private check(): void {
    const done = this.waiters.filter((w) => w.ready());
    if (done.length === 0) return;
    this.waiters = this.waiters.filter((w) => !done.includes(w));
    for (const w of done) w.resolve();
  }
}
