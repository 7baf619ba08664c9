import type Database from "better-sqlite3";
import { EXPIRING_TABLES } from "./schema.js";

// Every statement of the SQLite coordination store, prepared once per connection. Each takes
// `now` (epoch ms) from the caller, which reads the clock once per operation: a row whose
// `expires_at` is not after `now` is absent to every statement here.

export interface EntryRow {
  value: string;
  expires_at: number;
}

export interface ListedRow extends EntryRow {
  key: string;
}

export interface BucketRow {
  scaled: number;
  at: number;
  expires_at: number;
}

type Statement<Params extends unknown[], Row = unknown> = Database.Statement<Params, Row>;
type Prefix = string;

export interface Statements {
  readEntry: Statement<[Prefix, string, number], EntryRow>;
  putEntry: Statement<[Prefix, string, string, number]>;
  claimEntry: Statement<[Prefix, string, string, number, number]>;
  replaceEntry: Statement<[string, number, Prefix, string, string, number]>;
  releaseEntry: Statement<[Prefix, string, number]>;
  releaseExpected: Statement<[Prefix, string, string, number]>;
  listEntries: Statement<[Prefix, string, string, number], ListedRow>;
  readBucket: Statement<[Prefix, string], BucketRow>;
  writeBucket: Statement<[Prefix, string, number, number, number]>;
  dropExpiredSlots: Statement<[Prefix, string, number]>;
  countSlots: Statement<[Prefix, string], { held: number }>;
  renewSlot: Statement<[number, Prefix, string, string, number]>;
  insertSlot: Statement<[Prefix, string, string, number]>;
  releaseSlot: Statement<[Prefix, string, string]>;
  addCounter: Statement<
    [{ prefix: Prefix; name: string; delta: number; expiresAt: number; now: number }],
    { value: number }
  >;
  ping: Statement<[]>;
  cleanup: Statement<[number, number]>[];
}

export function prepareStatements(db: Database.Database): Statements {
  return {
    readEntry: db.prepare<[string, string, number], EntryRow>(
      "SELECT value, expires_at FROM coordination_entries WHERE prefix = ? AND key = ? AND expires_at > ?",
    ),
    /** Sets a key, whatever it held (an expired row is overwritten like a live one). */
    putEntry: db.prepare<[string, string, string, number]>(
      `INSERT INTO coordination_entries (prefix, key, value, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (prefix, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    ),
    /**
     * Sets an absent or expired key (one change) and leaves a live one alone (no change): a claim
     * of a fresh key, the common case, is this one statement; only a lost claim reads its holder.
     */
    claimEntry: db.prepare<[string, string, string, number, number]>(
      `INSERT INTO coordination_entries (prefix, key, value, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (prefix, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
       WHERE coordination_entries.expires_at <= ?`,
    ),
    replaceEntry: db.prepare<[string, number, string, string, string, number]>(
      `UPDATE coordination_entries SET value = ?, expires_at = ?
       WHERE prefix = ? AND key = ? AND value = ? AND expires_at > ?`,
    ),
    releaseEntry: db.prepare<[string, string, number]>(
      "DELETE FROM coordination_entries WHERE prefix = ? AND key = ? AND expires_at > ?",
    ),
    releaseExpected: db.prepare<[string, string, string, number]>(
      "DELETE FROM coordination_entries WHERE prefix = ? AND key = ? AND value = ? AND expires_at > ?",
    ),
    /**
     * Live entries from `from` on (inclusive) and after `after` (exclusive), in key order; the
     * caller stops at the first key outside the listed prefix (BINARY collation compares UTF-8
     * bytes, so one prefix's keys are contiguous).
     */
    listEntries: db.prepare<[string, string, string, number], ListedRow>(
      `SELECT key, value, expires_at FROM coordination_entries
       WHERE prefix = ? AND key >= ? AND key > ? AND expires_at > ? ORDER BY key`,
    ),
    readBucket: db.prepare<[string, string], BucketRow>(
      "SELECT scaled, at, expires_at FROM coordination_buckets WHERE prefix = ? AND name = ?",
    ),
    writeBucket: db.prepare<[string, string, number, number, number]>(
      `INSERT INTO coordination_buckets (prefix, name, scaled, at, expires_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (prefix, name) DO UPDATE
       SET scaled = excluded.scaled, at = excluded.at, expires_at = excluded.expires_at`,
    ),
    dropExpiredSlots: db.prepare<[string, string, number]>(
      "DELETE FROM coordination_slots WHERE prefix = ? AND name = ? AND expires_at <= ?",
    ),
    countSlots: db.prepare<[string, string], { held: number }>(
      "SELECT count(*) AS held FROM coordination_slots WHERE prefix = ? AND name = ?",
    ),
    /** Extends a live slot; no change when the holder has none (or its lease ended). */
    renewSlot: db.prepare<[number, string, string, string, number]>(
      `UPDATE coordination_slots SET expires_at = ?
       WHERE prefix = ? AND name = ? AND holder = ? AND expires_at > ?`,
    ),
    insertSlot: db.prepare<[string, string, string, number]>(
      `INSERT INTO coordination_slots (prefix, name, holder, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (prefix, name, holder) DO UPDATE SET expires_at = excluded.expires_at`,
    ),
    releaseSlot: db.prepare<[string, string, string]>(
      "DELETE FROM coordination_slots WHERE prefix = ? AND name = ? AND holder = ?",
    ),
    /** Adds to a live counter, or starts an absent or expired one at `delta`. */
    addCounter: db.prepare<
      [{ prefix: string; name: string; delta: number; expiresAt: number; now: number }],
      { value: number }
    >(
      `INSERT INTO coordination_counters (prefix, name, value, expires_at)
       VALUES (@prefix, @name, @delta, @expiresAt)
       ON CONFLICT (prefix, name) DO UPDATE
       SET value = CASE WHEN expires_at > @now THEN value + @delta ELSE @delta END,
           expires_at = @expiresAt
       RETURNING value`,
    ),
    ping: db.prepare("SELECT 1"),
    /** Per table: deletes at most `limit` expired rows. */
    cleanup: EXPIRING_TABLES.map(({ table, key }) =>
      db.prepare<[number, number]>(
        `DELETE FROM ${table} WHERE (${key}) IN
         (SELECT ${key} FROM ${table} WHERE expires_at <= ? LIMIT ?)`,
      ),
    ),
  };
}
