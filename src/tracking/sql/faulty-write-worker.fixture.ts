import fs from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import type { WriteRequest, WriteThreadData } from "./sqlite-write-protocol.js";
import { serveWrites } from "./sqlite-write-server.js";

// The real write thread, except for batches holding a task with one of these ids: "crash" throws
// an uncaught error in the thread, "crash-once" does so only the first time for this database
// file, "exit" ends it, "hang" never answers.

const data = workerData as WriteThreadData;
const marker = `${data.filename}.crashed`;

function injectFaults(request: WriteRequest): void {
  if (request.kind === "close") return;
  const ids = new Set(request.items.map((item) => item.taskId));
  if (ids.has("crash")) throw new Error("injected: the write thread crashed");
  if (ids.has("crash-once") && !fs.existsSync(marker)) {
    fs.writeFileSync(marker, "");
    throw new Error("injected: the write thread crashed once");
  }
  if (ids.has("exit")) process.exit(7);
  if (ids.has("hang")) {
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      // A thread stuck in native code: it answers nothing until terminated.
    }
  }
}

if (parentPort) serveWrites(parentPort, data, injectFaults);
