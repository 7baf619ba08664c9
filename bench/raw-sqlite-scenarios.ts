import Database from "better-sqlite3";
import { noopEnvelope } from "./noop-envelope.js";
import type { ChildSpec } from "./protocol.js";
import { batches, type PreparedRole } from "./role.js";

// The raw ceiling of the embedded broker: better-sqlite3 used the way an expert
// would for the same job, with nothing of GoTaskQ above it. Same file settings as the SQLite
// broker (WAL, synchronous=NORMAL, busy timeout), same message bytes (a real v1 envelope), same
// shape of guarantees: a publish batch is one transaction; a worker claims up to its free slots
// with one UPDATE … RETURNING that sets a lease, runs the no-op handler, and acks everything that
// finished since the last tick with one DELETE (acks grouped like AMQP's `multiple`). No
// tracking, no decoding checks, no retries, no leases extended: what GoTaskQ adds costs the
// difference between this column and GoTaskQ's.

type RawTarget = Extract<ChildSpec["target"], { system: "raw" }>;

const LEASE_MS = 30_000;
/** Poll interval when the queue is empty (the produce-while-consume scenario). */
const IDLE_POLL_MS = 1;

function targetOf(spec: ChildSpec): RawTarget {
  if (spec.target.system !== "raw" || spec.target.backend !== "sqlite")
    throw new Error("raw-sqlite-scenarios: wrong target");
  return spec.target;
}

function open(path: string): Database.Database {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  db.exec(`
    CREATE TABLE IF NOT EXISTS messages (
      seq INTEGER PRIMARY KEY,
      queue TEXT NOT NULL,
      priority INTEGER NOT NULL,
      visible_at INTEGER NOT NULL,
      body BLOB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, priority DESC, seq);
  `);
  return db;
}

function prepareProducer(spec: ChildSpec, db: Database.Database): PreparedRole {
  const insert = db.prepare(
    "INSERT INTO messages (queue, priority, visible_at, body) VALUES (?, 5, 0, ?)",
  );
  const publish = db.transaction((bodies: Uint8Array[]) => {
    for (const body of bodies) insert.run(spec.queue, body);
  });
  const createdAt = new Date().toISOString();
  return {
    async run() {
      for (const [start, end] of batches(spec.tasks, spec.batchSize)) {
        const bodies: Uint8Array[] = [];
        for (let n = start; n < end; n++) {
          bodies.push(noopEnvelope({ n, queue: spec.queue, createdAt }));
        }
        publish(bodies);
        // Yield like an async client would between round trips.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      return { count: spec.tasks };
    },
    async close() {
      db.close();
    },
  };
}

function prepareWorker(spec: ChildSpec, db: Database.Database): PreparedRole {
  const claim = db.prepare<[number, string, number, number], { seq: number; body: Buffer }>(`
    UPDATE messages SET visible_at = ?
    WHERE seq IN (SELECT seq FROM messages WHERE queue = ? AND visible_at <= ?
                  ORDER BY priority DESC, seq LIMIT ?)
    RETURNING seq, body`);
  const ackMany = db.prepare("DELETE FROM messages WHERE seq IN (SELECT value FROM json_each(?))");
  const handler = async (payload: unknown): Promise<void> => {
    if (typeof payload !== "object" || payload === null) throw new Error("bench: bad payload");
  };
  return {
    async run() {
      let inFlight = 0;
      let completed = 0;
      let acks: number[] = [];
      while (completed < spec.tasks) {
        const free = spec.concurrency - inFlight;
        const now = Date.now();
        const rows = free > 0 ? claim.all(now + LEASE_MS, spec.queue, now, free) : [];
        for (const row of rows) {
          inFlight++;
          const envelope = JSON.parse(row.body.toString("utf8")) as { payload: unknown };
          handler(envelope.payload).then(() => {
            inFlight--;
            acks.push(row.seq);
          });
        }
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (acks.length > 0) {
          ackMany.run(JSON.stringify(acks));
          completed += acks.length;
          acks = [];
        } else if (rows.length === 0) {
          await new Promise<void>((resolve) => setTimeout(resolve, IDLE_POLL_MS));
        }
      }
      return { count: completed };
    },
    async close() {
      db.close();
    },
  };
}

export async function prepareRaw(spec: ChildSpec): Promise<PreparedRole> {
  // The URL the sqlite bench backend hands its raw ceiling is the database file's path.
  const db = open(targetOf(spec).url);
  return spec.role === "producer" ? prepareProducer(spec, db) : prepareWorker(spec, db);
}
