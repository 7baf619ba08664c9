import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { type ChildMessage, type ChildSpec, decodeChildSpec, isGo, isStop } from "./protocol.js";
import type { PrepareRole } from "./role.js";

// Entry point of one benchmark child process (one producer or one worker of one system, or one
// server of the API phase), so that the peak RSS it reports is its own and the orchestrator's
// bookkeeping (or load generator) never shares its event loop. Lifecycle: prepare → `ready` →
// wait for `go` → run (timed; a server until `stop`) → `done` → close → exit.

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) throw new Error("bench child must be started with an IPC channel (fork)");
    process.send(message, undefined, undefined, () => resolve());
  });
}

async function loadRole(spec: ChildSpec): Promise<PrepareRole> {
  // Imported lazily so a BullMQ child never loads better-sqlite3 and the reverse, and a raw ceiling loads only its client library: each child's
  // RSS carries only its own system's code.
  switch (spec.target.system) {
    case "gotaskq":
      return (await import("./gotaskq-scenarios.js")).prepareGoTaskQ;
    case "bullmq":
      return (await import("./bullmq-scenarios.js")).prepareBullMQ;
    case "raw": {
      const module = (await import(`./raw-${spec.target.backend}-scenarios.js`)) as {
        prepareRaw: PrepareRole;
      };
      return module.prepareRaw;
    }
    case "api":
      // The bare references never load GoTaskQ (nor SQLite): their RSS is the framework's own.
      return spec.target.server === "gotaskq-rest" || spec.target.server === "gotaskq-grpc"
        ? (await import("./api-gotaskq-server.js")).prepareGoTaskQServer
        : (await import("./api-bare-servers.js")).prepareBareServer;
  }
}

/** Aborts on the orchestrator's `stop` (the end of a server's measured window). */
function stopSignal(): AbortSignal {
  const controller = new AbortController();
  const onMessage = (message: unknown) => {
    if (!isStop(message)) return;
    process.off("message", onMessage);
    controller.abort();
  };
  process.on("message", onMessage);
  return controller.signal;
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

/**
 * A server's event-loop delay while it serves: a long synchronous stretch (a large SQLite
 * transaction, a checkpoint, a GC pause) stalls every connection at once and shows here.
 */
function sampleLoopDelay(window: AbortSignal): { result(): Record<string, number> } {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  // Only the measured window: the flush after `stop` is not what clients waited for.
  window.addEventListener("abort", () => histogram.disable(), { once: true });
  return {
    result() {
      histogram.disable();
      const ms = (ns: number) => Math.round(ns / 1e5) / 10;
      return {
        "event-loop delay p99 (ms)": ms(histogram.percentile(99)),
        "event-loop delay max (ms)": ms(histogram.max),
      };
    },
  };
}

async function main(): Promise<void> {
  const spec = decodeChildSpec(process.argv[2]);
  const prepare = await loadRole(spec);
  const role = await prepare(spec);
  const go = waitForGo();
  const stop = stopSignal();
  await send(role.endpoint ? { type: "ready", endpoint: role.endpoint } : { type: "ready" });
  await go;
  const heap = sampleHeap(100);
  const loopDelay = spec.role === "server" ? sampleLoopDelay(stop) : undefined;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const outcome = await role.run(stop);
  const elapsedMs = (outcome.finishedAt ?? performance.now()) - started;
  // maxRSS is in kilobytes on Linux and macOS.
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  const cpu = process.cpuUsage(cpuBefore);
  // CPU time is far less sensitive than wall time to other load on a shared machine.
  const cpuPerTask = outcome.count > 0 ? (cpu.user + cpu.system) / outcome.count : 0;
  const details = {
    ...outcome.details,
    ...heap.stop(),
    ...loopDelay?.result(),
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
