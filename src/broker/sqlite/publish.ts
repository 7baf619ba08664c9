import type Database from "better-sqlite3";
import type { OutgoingMessage } from "../broker.js";

// Writing messages into `messages`: publishes, retries (the next attempt) and DLQ requeues all
// come through here. Callers run it inside the write loop's transaction, so a batch of any size
// costs one commit; the statements are prepared once per connection.

export const STATE_READY = 0;
export const STATE_DELAYED = 1;
export const STATE_LEASED = 2;

export class MessageWriter {
  private readonly insert: Database.Statement<[string, string, number, Uint8Array, number, number]>;
  private readonly addQueue: Database.Statement<[string]>;

  constructor(db: Database.Database) {
    this.insert = db.prepare(
      `INSERT INTO messages (queue, id, priority, body, state, visible_at) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.addQueue = db.prepare(`INSERT OR IGNORE INTO queues (name) VALUES (?)`);
  }

  /** Records the queue name for `queues()`; idempotent. */
  noteQueue(queue: string): void {
    this.addQueue.run(queue);
  }

  /** Inserts a validated batch; `now` stamps `visible_at` (delays count from the commit's tick). */
  insertBatch(queue: string, messages: readonly OutgoingMessage[], now: number): void {
    this.noteQueue(queue);
    for (const m of messages) this.insertOne(queue, m.id, m.priority, m.body, m.delayMs, now);
  }

  insertOne(
    queue: string,
    id: string,
    priority: number,
    body: Uint8Array,
    delayMs: number,
    now: number,
  ): void {
    if (delayMs > 0) this.insert.run(queue, id, priority, body, STATE_DELAYED, now + delayMs);
    else this.insert.run(queue, id, priority, body, STATE_READY, now);
  }
}
