import type Database from "better-sqlite3";
import { STATE_LEASED } from "./publish.js";

// The claim: taking the next ready messages of some queues under a lease, exclusively across
// every process sharing the file. It runs inside the write loop's BEGIN IMMEDIATE transaction,
// which holds SQLite's single write lock, so two processes can never claim the same row.
//
// First `promote` turns due rows (delay over, or lease expired and not extended) back to ready;
// then the claim takes at most the subscription's free slots, highest priority first and FIFO
// within a priority, straight off the `messages_ready` index: a backlog of any size costs
// `limit` index steps, and only the claimed rows ever reach JavaScript. An expired lease keeps
// its `lease_token` until the row is claimed again, so its old holder can still settle it.

export interface ClaimedRow {
  seq: number;
  id: string;
  queue: string;
  priority: number;
  body: Uint8Array;
  delivery_count: number;
}

interface Candidate {
  seq: number;
  priority: number;
}

const RETURNING = "RETURNING seq, id, queue, priority, body, delivery_count";

export class Claimer {
  private readonly promoteDue: Database.Statement<[string, number]>;
  private readonly claimFromQueue: Database.Statement<[number, number, string, number]>;
  private readonly candidates: Database.Statement<[string, number]>;
  private readonly claimRow: Database.Statement<[number, number, number]>;
  private readonly readyExists: Database.Statement<[string]>;
  private readonly dueExists: Database.Statement<[string, number]>;
  private readonly earliestDue: Database.Statement<[string]>;

  constructor(db: Database.Database) {
    this.promoteDue = db.prepare(
      `UPDATE messages SET state = 0 WHERE queue = ? AND state > 0 AND visible_at <= ?`,
    );
    this.claimFromQueue = db.prepare(
      `UPDATE messages
          SET state = ${STATE_LEASED}, visible_at = ?, lease_token = ?, delivery_count = delivery_count + 1
        WHERE seq IN (SELECT seq FROM messages WHERE queue = ? AND state = 0
                       ORDER BY priority DESC, seq LIMIT ?)
        ${RETURNING}`,
    );
    this.candidates = db.prepare(
      `SELECT seq, priority FROM messages WHERE queue = ? AND state = 0 ORDER BY priority DESC, seq LIMIT ?`,
    );
    this.claimRow = db.prepare(
      `UPDATE messages
          SET state = ${STATE_LEASED}, visible_at = ?, lease_token = ?, delivery_count = delivery_count + 1
        WHERE seq = ? AND state = 0
        ${RETURNING}`,
    );
    this.readyExists = db
      .prepare(`SELECT 1 FROM messages WHERE queue = ? AND state = 0 LIMIT 1`)
      .pluck();
    this.dueExists = db
      .prepare(`SELECT 1 FROM messages WHERE queue = ? AND state > 0 AND visible_at <= ? LIMIT 1`)
      .pluck();
    this.earliestDue = db
      .prepare(`SELECT min(visible_at) FROM messages WHERE queue = ? AND state > 0`)
      .pluck();
  }

  /** Makes due delayed rows and expired leases of these queues ready. Write transaction only. */
  promote(queues: readonly string[], now: number): void {
    for (const queue of queues) this.promoteDue.run(queue, now);
  }

  /**
   * Leases up to `limit` ready rows of `queues` until `leaseUntil` under `token`, in delivery
   * order (priority desc, then seq). Write transaction only, after `promote`.
   */
  claim(queues: readonly string[], limit: number, leaseUntil: number, token: number): ClaimedRow[] {
    if (queues.length === 1) {
      const rows = this.claimFromQueue.all(
        leaseUntil,
        token,
        queues[0] as string,
        limit,
      ) as ClaimedRow[];
      // RETURNING does not promise the subquery's order.
      return rows.length > 1 ? rows.sort(deliveryOrder) : rows;
    }
    // Several queues: the best `limit` of each queue's index head, merged. One statement over
    // `queue IN (…)` would sort every ready row of those queues instead of walking the index.
    const pool: Candidate[] = [];
    for (const queue of queues) pool.push(...(this.candidates.all(queue, limit) as Candidate[]));
    pool.sort(deliveryOrder);
    const claimed: ClaimedRow[] = [];
    for (const candidate of pool.slice(0, limit)) {
      const row = this.claimRow.get(leaseUntil, token, candidate.seq) as ClaimedRow | undefined;
      if (row) claimed.push(row);
    }
    return claimed;
  }

  /** Whether a claim could take anything now; a cheap read that needs no write lock. */
  hasWork(queues: readonly string[], now: number): boolean {
    for (const queue of queues) {
      if (this.readyExists.get(queue) !== undefined) return true;
      if (this.dueExists.get(queue, now) !== undefined) return true;
    }
    return false;
  }

  /** Earliest time a delayed row or a lease of these queues falls due, if any. */
  nextDueAt(queues: readonly string[]): number | undefined {
    let earliest: number | undefined;
    for (const queue of queues) {
      const at = this.earliestDue.get(queue) as number | null;
      if (at !== null && (earliest === undefined || at < earliest)) earliest = at;
    }
    return earliest;
  }
}

function deliveryOrder(a: Candidate, b: Candidate): number {
  return b.priority - a.priority || a.seq - b.seq;
}
