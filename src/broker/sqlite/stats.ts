import type Database from "better-sqlite3";
import type { QueueStats } from "../broker.js";
import { STATE_DELAYED, STATE_LEASED } from "./publish.js";

// Read-only views: per-queue counts and the queue list. They read one WAL snapshot, take no
// lock, and count through the two partial indexes without touching message bodies. Rows
// whose delay or lease has passed count as ready even before a claim has promoted them, which
// is what a consumer would see.

interface WaitingGroup {
  state: number;
  due: number;
  n: number;
}

export class StatsReader {
  private readonly readyCount: Database.Statement<[string]>;
  private readonly waiting: Database.Statement<[number, string]>;
  private readonly deadCount: Database.Statement<[string]>;
  private readonly names: Database.Statement<[]>;
  private readonly select1: Database.Statement<[]>;
  private readonly snapshot: Database.Transaction<(queue: string, now: number) => QueueStats>;

  constructor(db: Database.Database) {
    this.readyCount = db
      .prepare(`SELECT count(*) FROM messages WHERE queue = ? AND state = 0`)
      .pluck();
    this.waiting = db.prepare(
      `SELECT state, visible_at <= ? AS due, count(*) AS n
         FROM messages WHERE queue = ? AND state > 0 GROUP BY state, due`,
    );
    this.deadCount = db.prepare(`SELECT count(*) FROM dead_letters WHERE queue = ?`).pluck();
    this.names = db.prepare(`SELECT name FROM queues ORDER BY name`).pluck();
    this.select1 = db.prepare(`SELECT 1`).pluck();
    this.snapshot = db.transaction((queue: string, now: number) => {
      const stats: QueueStats = {
        queue,
        ready: this.readyCount.get(queue) as number,
        inFlight: 0,
        delayed: 0,
        deadLettered: this.deadCount.get(queue) as number,
      };
      for (const group of this.waiting.all(now, queue) as WaitingGroup[]) {
        if (group.due) stats.ready += group.n;
        else if (group.state === STATE_LEASED) stats.inFlight += group.n;
        else if (group.state === STATE_DELAYED) stats.delayed += group.n;
      }
      return stats;
    });
  }

  stats(queue: string, now: number): QueueStats {
    return this.snapshot.deferred(queue, now);
  }

  queues(): string[] {
    return this.names.all() as string[];
  }

  ping(): void {
    this.select1.get();
  }
}
