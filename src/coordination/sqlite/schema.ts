import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { UnavailableError } from "../../core/errors.js";

// Opening the coordination file: connection pragmas and numbered migrations.
//
// The file runs in WAL mode with synchronous=NORMAL: a resolved operation survives any process
// crash (kill -9 included); an OS crash can roll back the last commits, which for TTL'd keys
// means a claim taken just before it may be taken again after it. busy_timeout is the
// operation timeout: a write that waits longer for another process's lock fails `unavailable`.
//
// The schema version lives in the `coordination_schema` table rather than in `user_version`, so
// that the tables can share a file with another GoTaskQ schema without either reading the
// other's version. Every table is keyed by (prefix, name): the deployment prefix is a column,
// so no choice of prefix and key can make two namespaces meet. Expiry times are epoch ms of the
// process clock; each table has an index on them for the bounded cleanup.
//
// Schema (version 1):
// - `coordination_entries`: claims and records (value, expires_at).
// - `coordination_buckets`: token buckets as scaled tokens (tokens × intervalMs) at `at`.
// - `coordination_slots`: one row per semaphore holder, until its lease ends.
// - `coordination_counters`: integer counters.

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE coordination_entries (
    prefix TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (prefix, key)
  ) WITHOUT ROWID;
  CREATE INDEX coordination_entries_expiry ON coordination_entries (expires_at);

  CREATE TABLE coordination_buckets (
    prefix TEXT NOT NULL,
    name TEXT NOT NULL,
    scaled INTEGER NOT NULL,
    at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (prefix, name)
  ) WITHOUT ROWID;
  CREATE INDEX coordination_buckets_expiry ON coordination_buckets (expires_at);

  CREATE TABLE coordination_slots (
    prefix TEXT NOT NULL,
    name TEXT NOT NULL,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (prefix, name, holder)
  ) WITHOUT ROWID;
  CREATE INDEX coordination_slots_expiry ON coordination_slots (expires_at);

  CREATE TABLE coordination_counters (
    prefix TEXT NOT NULL,
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (prefix, name)
  ) WITHOUT ROWID;
  CREATE INDEX coordination_counters_expiry ON coordination_counters (expires_at);
  `,
];

/** The tables the bounded cleanup sweeps, each keyed by its primary key columns. */
export const EXPIRING_TABLES: readonly { table: string; key: string }[] = [
  { table: "coordination_entries", key: "prefix, key" },
  { table: "coordination_buckets", key: "prefix, name" },
  { table: "coordination_slots", key: "prefix, name, holder" },
  { table: "coordination_counters", key: "prefix, name" },
];

export function openCoordinationDatabase(file: string, busyTimeoutMs: number): Database.Database {
  if (file !== ":memory:") mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    migrate(db);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Applies the migrations past the recorded version; BEGIN IMMEDIATE makes concurrent openers queue. */
function migrate(db: Database.Database): void {
  const apply = db.transaction(() => {
    db.exec("CREATE TABLE IF NOT EXISTS coordination_schema (version INTEGER NOT NULL)");
    const row = db.prepare("SELECT version FROM coordination_schema").get() as
      | { version: number }
      | undefined;
    const current = row?.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw new UnavailableError(
        `coordination schema version ${current} is newer than this GoTaskQ supports (${MIGRATIONS.length}); upgrade GoTaskQ`,
      );
    }
    if (current === MIGRATIONS.length) return;
    for (let version = current; version < MIGRATIONS.length; version++) {
      db.exec(MIGRATIONS[version] as string);
    }
    db.exec("DELETE FROM coordination_schema");
    db.prepare("INSERT INTO coordination_schema (version) VALUES (?)").run(MIGRATIONS.length);
  });
  apply.immediate();
}
