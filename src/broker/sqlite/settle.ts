import type Database from "better-sqlite3";
import type { DeadLetterReason } from "../broker.js";
import { type MessageWriter, STATE_LEASED } from "./publish.js";

// Settling deliveries: ack, retry, dead-letter, release and lease extension, each one or two
// statements keyed by (seq, lease_token). The token is what makes a lost lease harmless: once
// another consumer has claimed the row its token changed, the statement matches nothing, and
// the stale holder learns it lost the lease without touching the new holder's row. The write
// loop applies every settle requested in one tick inside one transaction.

export type SettleOp =
  | { kind: "ack" }
  | { kind: "retry"; body: Uint8Array; delayMs: number }
  | { kind: "deadLetter"; reason: DeadLetterReason; detail: string }
  | { kind: "release" }
  | { kind: "extendLease"; ms: number };

interface RemovedRow {
  queue: string;
  id: string;
  priority: number;
  body: Uint8Array;
}

export class Settler {
  private readonly remove: Database.Statement<[number, number]>;
  private readonly removeReturning: Database.Statement<[number, number]>;
  private readonly addDeadLetter: Database.Statement<
    [string, string, number, Uint8Array, string, string, number]
  >;
  private readonly release: Database.Statement<[number, number]>;
  private readonly extend: Database.Statement<[number, number, number]>;

  constructor(
    db: Database.Database,
    private readonly writer: MessageWriter,
  ) {
    this.remove = db.prepare(`DELETE FROM messages WHERE seq = ? AND lease_token = ?`);
    this.removeReturning = db.prepare(
      `DELETE FROM messages WHERE seq = ? AND lease_token = ? RETURNING queue, id, priority, body`,
    );
    this.addDeadLetter = db.prepare(
      `INSERT INTO dead_letters (queue, id, priority, body, reason, detail, dead_lettered_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    // A release is not a failed delivery: the next claim's +1 brings the count back to this one's.
    this.release = db.prepare(
      `UPDATE messages SET state = 0, lease_token = NULL, delivery_count = max(delivery_count - 1, 0)
        WHERE seq = ? AND lease_token = ?`,
    );
    // Also revives a lease that expired but was not claimed again (state already back to 0).
    this.extend = db.prepare(
      `UPDATE messages SET state = ${STATE_LEASED}, visible_at = ? WHERE seq = ? AND lease_token = ?`,
    );
  }

  /** Applies one settle inside a write transaction; false when the lease was lost. */
  apply(seq: number, token: number, op: SettleOp, now: number): boolean {
    switch (op.kind) {
      case "ack":
        return this.remove.run(seq, token).changes === 1;
      case "retry": {
        const row = this.removeReturning.get(seq, token) as RemovedRow | undefined;
        if (!row) return false;
        this.writer.insertOne(row.queue, row.id, row.priority, op.body, op.delayMs, now);
        return true;
      }
      case "deadLetter": {
        const row = this.removeReturning.get(seq, token) as RemovedRow | undefined;
        if (!row) return false;
        this.addDeadLetter.run(
          row.queue,
          row.id,
          row.priority,
          row.body,
          op.reason,
          op.detail,
          now,
        );
        return true;
      }
      case "release":
        return this.release.run(seq, token).changes === 1;
      case "extendLease":
        return this.extend.run(now + op.ms, seq, token).changes === 1;
    }
  }
}
