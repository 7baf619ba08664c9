import { parentPort, workerData } from "node:worker_threads";
import type { WriteThreadData } from "./sqlite-write-protocol.js";
import { serveWrites } from "./sqlite-write-server.js";

// The entry script of the SQLite tracking write thread (started by sqlite-write-thread.ts; the
// work is in sqlite-write-server.ts).

if (!parentPort) throw new Error("sqlite-write-worker runs only as a worker thread");
serveWrites(parentPort, workerData as WriteThreadData);
