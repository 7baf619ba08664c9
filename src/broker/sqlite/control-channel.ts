import type Database from "better-sqlite3";
import type { ControlChannel, ControlCommand, Subscription } from "../broker.js";
import { decodeCommand, encodeCommand, invokeCallback } from "../validation.js";

// The control channel over a shared file: `broadcast` appends to the `control` log and records
// the revocation in `revocations` in one transaction; every process polls the log by `seq`
// (every `pollIntervalMs`, only while it has subscribers) and hands new commands to its
// subscribers. A new subscriber first gets the revocations of the retention window (default
// 30 days) and then the log from the position read in the same snapshot, so a command is
// neither missed nor doubled between replay and live delivery. The log itself is only for live
// delivery and is purged after an hour; `revocations` is what survives restarts. Presence beats
// go into the log only (never into `revocations`), so they reach the pollers of the moment and
// are never replayed: one small write per beat.

export const DEFAULT_REVOCATION_RETENTION_MS = 30 * 24 * 3_600_000;
const CONTROL_LOG_RETENTION_MS = 3_600_000;

/**
 * Presence rows carry the beat's JSON in `task_id` behind a NUL, which no task id contains: no
 * schema change, and a process of an older version reads such a row as the revocation of a task
 * that cannot exist (harmless).
 */
const PRESENCE_MARK = "\u0000";

interface LogRow {
  seq: number;
  task_id: string;
  at: number;
}

interface Listener {
  handler: (command: ControlCommand) => void;
  /** Last log seq this listener has seen. */
  after: number;
}

export class SqliteControlChannel implements ControlChannel {
  private readonly listeners = new Set<Listener>();
  private readonly append: Database.Statement<[string, number, number]>;
  private readonly remember: Database.Statement<[string, number]>;
  private readonly forgetRevocations: Database.Statement<[number]>;
  private readonly trimLog: Database.Statement<[number]>;
  private readonly recent: Database.Statement<[number]>;
  private readonly lastSeq: Database.Statement<[]>;
  private readonly readLog: Database.Statement<[number]>;
  private readonly broadcastTx: Database.Transaction<(command: ControlCommand) => void>;
  private readonly snapshotTx: Database.Transaction<() => { replay: LogRow[]; after: number }>;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    db: Database.Database,
    private readonly guard: <T>(work: () => T) => T,
    private readonly now: () => number,
    private readonly pollIntervalMs: number,
    private readonly retentionMs: number,
  ) {
    this.append = db.prepare(`INSERT INTO control (task_id, at, created_at) VALUES (?, ?, ?)`);
    this.remember = db.prepare(
      `INSERT INTO revocations (task_id, at) VALUES (?, ?)
       ON CONFLICT (task_id) DO UPDATE SET at = max(at, excluded.at)`,
    );
    this.forgetRevocations = db.prepare(`DELETE FROM revocations WHERE at < ?`);
    this.trimLog = db.prepare(`DELETE FROM control WHERE created_at < ?`);
    this.recent = db.prepare(
      `SELECT 0 AS seq, task_id, at FROM revocations WHERE at >= ? ORDER BY at`,
    );
    this.lastSeq = db.prepare(`SELECT coalesce(max(seq), 0) FROM control`).pluck();
    this.readLog = db.prepare(
      `SELECT seq, task_id, at FROM control WHERE seq > ? ORDER BY seq LIMIT 1000`,
    );
    this.broadcastTx = db.transaction((command: ControlCommand) => {
      const now = this.now();
      if (command.type === "presence") {
        // Live only: in the log (purged after an hour), never in `revocations`.
        this.append.run(PRESENCE_MARK + encodeCommand(command), command.at, now);
      } else {
        this.append.run(command.taskId, command.at, now);
        this.remember.run(command.taskId, command.at);
        this.forgetRevocations.run(now - this.retentionMs);
      }
      this.trimLog.run(now - CONTROL_LOG_RETENTION_MS);
    });
    this.snapshotTx = db.transaction(() => ({
      replay: this.recent.all(this.now() - this.retentionMs) as LogRow[],
      after: this.lastSeq.get() as number,
    }));
  }

  async broadcast(command: ControlCommand): Promise<void> {
    this.guard(() => this.broadcastTx.immediate(command));
    // Local subscribers need not wait for the next poll.
    if (this.listeners.size > 0) setImmediate(() => this.poll());
  }

  async subscribe(handler: (command: ControlCommand) => void): Promise<Subscription> {
    const { replay, after } = this.guard(() => this.snapshotTx.deferred());
    const listener: Listener = { handler, after };
    for (const row of replay) invokeCallback(handler, toCommand(row) as ControlCommand);
    this.listeners.add(listener);
    this.schedule();
    return {
      close: async () => {
        this.listeners.delete(listener);
      },
    };
  }

  stop(): void {
    this.stopped = true;
    this.listeners.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer || this.stopped || this.listeners.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.poll();
      this.schedule();
    }, this.pollIntervalMs);
  }

  private poll(): void {
    if (this.stopped || this.listeners.size === 0) return;
    let from = Number.POSITIVE_INFINITY;
    for (const listener of this.listeners) from = Math.min(from, listener.after);
    let rows: LogRow[];
    try {
      rows = this.readLog.all(from) as LogRow[];
    } catch {
      return; // Busy or closing: the next poll reads the same rows again.
    }
    for (const row of rows) {
      const command = toCommand(row);
      for (const listener of this.listeners) {
        if (row.seq <= listener.after) continue;
        listener.after = row.seq;
        if (command) invokeCallback(listener.handler, command);
      }
    }
    // More than one page waiting: read on at once.
    if (rows.length === 1000) setImmediate(() => this.poll());
  }
}

function toCommand(row: LogRow): ControlCommand | undefined {
  if (row.task_id.startsWith(PRESENCE_MARK)) return decodeCommand(row.task_id.slice(1));
  return { type: "revoke", taskId: row.task_id, at: row.at };
}
