import { performance } from "node:perf_hooks";
import { type ChildMessage, type ChildSpec, decodeChildSpec, isGo } from "./protocol.js";
import type { PrepareRole } from "./role.js";

// Entry point of one benchmark child process (one producer or one worker of one system), so
// that the peak RSS it reports is its own and the orchestrator's bookkeeping never shares its
// event loop. Lifecycle: prepare → `ready` → wait for `go` → run (timed) → `done` → close → exit.

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) throw new Error("bench child must be started with an IPC channel (fork)");
    process.send(message, undefined, undefined, () => resolve());
  });
}

async function loadRole(spec: ChildSpec): Promise<PrepareRole> {
  // Imported lazily so a BullMQ child never loads better-sqlite3 and the reverse: each child's
  // RSS carries only its own system's code.
  switch (spec.target.system) {
    case "gotaskq":
      return (await import("./gotaskq-scenarios.js")).prepareGoTaskQ;
    case "bullmq":
      return (await import("./bullmq-scenarios.js")).prepareBullMQ;
    case "raw-sqlite":
      return (await import("./raw-sqlite-scenarios.js")).prepareRawSqlite;
  }
}

function waitForGo(): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (!isGo(message)) return;
      process.off("message", onMessage);
      resolve();
    };
    process.on("message", onMessage);
  });
}

/**
 * Samples the V8 heap while the child works, so the report can tell how much of the peak RSS is
 * JavaScript heap (allocation rate, retained objects) and how much is code, SQLite and buffers.
 */
function sampleHeap(everyMs: number): { stop(): Record<string, number> } {
  let peakHeapTotal = 0;
  const sample = () => {
    peakHeapTotal = Math.max(peakHeapTotal, process.memoryUsage().heapTotal);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { "peak V8 heap (MiB)": Math.round(peakHeapTotal / 1_048_576) };
    },
  };
}

async function main(): Promise<void> {
  const spec = decodeChildSpec(process.argv[2]);
  const prepare = await loadRole(spec);
  const role = await prepare(spec);
  const go = waitForGo();
  await send({ type: "ready" });
  await go;
  const heap = sampleHeap(100);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const outcome = await role.run();
  const elapsedMs = (outcome.finishedAt ?? performance.now()) - started;
  // maxRSS is in kilobytes on Linux and macOS.
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  const cpu = process.cpuUsage(cpuBefore);
  // CPU time is far less sensitive than wall time to other load on a shared machine.
  const cpuPerTask = outcome.count > 0 ? (cpu.user + cpu.system) / outcome.count : 0;
  const details = {
    ...outcome.details,
    ...heap.stop(),
    "CPU per task (µs)": Math.round(cpuPerTask * 10) / 10,
  };
  await role.close();
  await send({
    type: "done",
    report: { elapsedMs, count: outcome.count, peakRssBytes, details },
  });
}

main().then(
  () => {
    // Exit explicitly: a client library's leftover timer must not keep a finished child alive.
    process.exit(0);
  },
  async (error: unknown) => {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`bench child failed: ${text}\n`);
    if (process.connected) await send({ type: "failed", error: text.split("\n")[0] ?? text });
    process.exit(1);
  },
);
