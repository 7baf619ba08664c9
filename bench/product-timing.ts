import { performance } from "node:perf_hooks";
import type { RunningProcess } from "./cli-process.js";
import type { ProductConfig } from "./config.js";
import { type QueueCounts, waitUntilDrained } from "./product-clients.js";

// Timing one cell of the product phase on processes already running and ready: the clock starts
// at the first submission and stops when the queue shows nothing ready, in flight or delayed;
// then every process is stopped with SIGTERM, whatever happened, and what each reported (peak
// RSS, CPU while timed, log bytes, tracking counters) is collected.

/** How one process of a cell ended: peak RSS, CPU used while the cell was timed, its logs. */
export interface ProcessOutcome {
  label: string;
  peakRssBytes: number;
  /** CPU of this process from the first submission until the queue was empty, in ms. */
  cpuMs: number;
  stdoutBytes: number;
  exit: string;
  trackingWritten?: number;
  trackingDropped?: number;
}

export type ProductCell =
  | {
      ok: true;
      tasks: number;
      /** First submission until the queue showed nothing ready, in flight or delayed. */
      elapsedMs: number;
      /** First submission until the last one was accepted. */
      submittedMs: number;
      deadLettered: number;
      processes: ProcessOutcome[];
    }
  | { ok: false; reason: string };

export interface CellContext {
  config: ProductConfig;
  /** The folder of this cell, its processes' working directory; removed once it is measured. */
  dir: string;
  /** Scope handed to the backend for its URLs: unique per run and cell. */
  scope: string;
  apiKey: string;
}

/** Above the CLI's default shutdown grace (30 s): a clean stop is never cut short. */
const STOP_GRACE_MS = 45_000;

/** Stops every process (in parallel), then reads what each reported. */
async function stopAll(
  processes: readonly RunningProcess[],
  cpuAtStart: Map<RunningProcess, number>,
  cpuAtEnd: Map<RunningProcess, number>,
): Promise<ProcessOutcome[]> {
  return Promise.all(
    processes.map(async (p) => {
      const report = await p.stop(STOP_GRACE_MS);
      const stats = report.trackingStats;
      const start = cpuAtStart.get(p);
      const end = cpuAtEnd.get(p);
      return {
        label: p.label,
        peakRssBytes: report.peakRssBytes,
        cpuMs: start !== undefined && end !== undefined ? end - start : 0,
        stdoutBytes: report.stdoutBytes,
        exit: report.exit,
        ...(typeof stats?.written === "number" ? { trackingWritten: stats.written } : {}),
        ...(typeof stats?.dropped === "number" ? { trackingDropped: stats.dropped } : {}),
      };
    }),
  );
}

export interface Drive {
  /** Submits everything; resolves with the tasks accepted. */
  submit(): Promise<number>;
  counts(): Promise<QueueCounts | undefined>;
}

/** Times `drive` on running processes and stops them; never leaves one running. */
export async function timeCell(
  ctx: CellContext,
  processes: RunningProcess[],
  drive: () => Drive,
): Promise<ProductCell> {
  const cpuAtStart = new Map<RunningProcess, number>();
  const cpuAtEnd = new Map<RunningProcess, number>();
  let result: ProductCell;
  try {
    const driver = drive();
    for (const p of processes) cpuAtStart.set(p, p.cpuMs());
    const startedAt = performance.now();
    const deadline = startedAt + ctx.config.cellTimeoutMs;
    const accepted = await Promise.race([
      driver.submit(),
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error("submissions not done before the cell's timeout")),
          ctx.config.cellTimeoutMs,
        ).unref(),
      ),
    ]);
    const submittedMs = performance.now() - startedAt;
    const drained = await waitUntilDrained(driver.counts, ctx.config.pollMs, deadline);
    for (const p of processes) cpuAtEnd.set(p, p.cpuMs());
    result =
      accepted === ctx.config.tasks
        ? {
            ok: true,
            tasks: accepted,
            elapsedMs: drained.at - startedAt,
            submittedMs,
            deadLettered: drained.deadLettered,
            processes: [],
          }
        : { ok: false, reason: `only ${accepted} of ${ctx.config.tasks} tasks accepted` };
  } catch (error) {
    result = { ok: false, reason: (error as Error).message.split("\n")[0] ?? "failed" };
  }
  const outcomes = await stopAll(processes, cpuAtStart, cpuAtEnd);
  return result.ok ? { ...result, processes: outcomes } : result;
}

/** Starts processes in order (each after the previous is ready); kills them all on a failure. */
export async function startInOrder(
  starts: readonly (() => Promise<RunningProcess>)[],
): Promise<RunningProcess[]> {
  const started: RunningProcess[] = [];
  try {
    for (const start of starts) started.push(await start());
    return started;
  } catch (error) {
    await Promise.all(started.map((p) => p.stop(5_000)));
    throw error;
  }
}
