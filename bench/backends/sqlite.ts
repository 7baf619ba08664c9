import path from "node:path";
import type { BenchBackend } from "./backend.js";

// The embedded broker: a fresh database file per cell in the run's temporary folder (removed
// with it), so there is nothing to start and nothing to clean on a server.

export const backend: BenchBackend = {
  name: "sqlite",
  title: "embedded SQLite broker",
  rawLabel: "raw SQLite ceiling",
  rawDescription:
    "better-sqlite3 used directly for the same work (batched inserts, claim-with-lease UPDATE … RETURNING, grouped DELETE acks), same pragmas and message bytes: the limit of the embedded broker itself. SQLite's storage work runs on the worker's own thread, while Redis runs as its own process on the other core.",
  async unavailable() {
    return undefined;
  },
  async start() {},
  brokerUrl: (_scope, dir) => `sqlite://${path.join(dir, "broker.db")}`,
  rawUrl: (_scope, dir) => path.join(dir, "queue.db"),
  async describe() {
    return "embedded SQLite broker: WAL, synchronous=NORMAL (every commit in the WAL, fsync at checkpoints)";
  },
  async stop() {},
};
