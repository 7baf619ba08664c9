import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { UnavailableError } from "../../core/errors.js";

// Opening the broker file: connection pragmas and numbered migrations.
//
// Durability. The file runs in WAL mode. With `synchronous=NORMAL` (the default) a commit is
// written to the WAL before `publish`/settle resolve, so it survives the crash of any process
// (kill -9 included); only an OS crash or power loss can roll back the last commits, because
// the WAL is fsynced at checkpoints rather than at every commit. `synchronous=FULL`
// (`sqlite://…?synchronous=full`) fsyncs every commit and survives power loss too, at a large
// cost in throughput on most disks. WAL also lets readers (stats, DLQ listing, idle polls) run
// without blocking the writer, which is what lets several processes share one file.
//
// Schema (version 1):
// - `messages`: one row per message. `state` 0 = ready, 1 = delayed, 2 = leased. For delayed and
//   leased rows `visible_at` is when they become deliverable (delay end or lease end); a row is
//   moved back to state 0 by the claim transaction once `visible_at` has passed. `seq` (the
//   rowid) is the publish order: FIFO within a priority. `lease_token` names the current lease.
//   Two partial indexes: `messages_ready` serves "next ready in this queue by priority, then seq"
//   and `messages_waiting` serves promotion of due rows and the stats counts.
// - `dead_letters`: DLQ entries with reason, detail and the message copy; `seq` is the list order.
// - `revocations`: the latest revocation time of each task id, kept for the retention window.
// - `control`: an append-only log of control commands that every process polls by `seq`.
//   AUTOINCREMENT so a purge can never make a `seq` come back and be missed.
// - `queues`: every queue ever published to or consumed from.

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE messages (
    seq INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    priority INTEGER NOT NULL,
    body BLOB NOT NULL,
    state INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    lease_token INTEGER,
    delivery_count INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX messages_ready ON messages (queue, priority DESC, seq) WHERE state = 0;
  CREATE INDEX messages_waiting ON messages (queue, visible_at, state) WHERE state > 0;

  CREATE TABLE dead_letters (
    seq INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    priority INTEGER NOT NULL,
    body BLOB NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    dead_lettered_at INTEGER NOT NULL
  );
  CREATE INDEX dead_letters_by_queue ON dead_letters (queue, seq);
  CREATE INDEX dead_letters_by_reason ON dead_letters (queue, reason, seq);
  CREATE INDEX dead_letters_by_id ON dead_letters (queue, id);

  CREATE TABLE revocations (
    task_id TEXT PRIMARY KEY,
    at INTEGER NOT NULL
  );
  CREATE INDEX revocations_by_at ON revocations (at);

  CREATE TABLE control (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX control_by_created_at ON control (created_at);

  CREATE TABLE queues (
    name TEXT PRIMARY KEY
  ) WITHOUT ROWID;
  `,
];

export type SynchronousMode = "normal" | "full";

export function openDatabase(file: string, synchronous: SynchronousMode): Database.Database {
  if (file !== ":memory:") mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  try {
    // Wait (blocking, but every write transaction here is short) instead of failing at once
    // when another process holds the write lock.
    db.pragma("busy_timeout = 5000");
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${synchronous === "full" ? "FULL" : "NORMAL"}`);
    db.pragma("foreign_keys = OFF");
    migrate(db);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Applies the migrations past `user_version`; BEGIN IMMEDIATE makes concurrent openers queue. */
function migrate(db: Database.Database): void {
  const apply = db.transaction(() => {
    const current = db.pragma("user_version", { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new UnavailableError(
        `broker file schema version ${current} is newer than this GoTaskQ supports (${MIGRATIONS.length}); upgrade GoTaskQ`,
      );
    }
    for (let version = current; version < MIGRATIONS.length; version++) {
      db.exec(MIGRATIONS[version] as string);
    }
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  });
  apply.immediate();
}
