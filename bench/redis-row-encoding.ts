import type { TaskEnvelope } from "../src/core/envelope.js";
import { taskEvent } from "../src/tasks/task-events.js";
import { encodeRows, type RowLimits } from "../src/tracking/redis/row-encoding.js";
import type { TaskEvent } from "../src/tracking/tracking-store.js";
import { referenceRows } from "../test/support/redis-rows-reference.js";

// Client CPU of the Redis tracking store's row encoding alone (no Redis): the rows arguments of
// write batches built by the general path (collapse with sql/merge.ts, then pushRowArgs:
// test/support/redis-rows-reference.ts) and by row-encoding.ts, for 100k tasks (BENCH_TASKS) in
// flushes of 5,000 events (the writer's batch), as a producer records them (one PENDING per task)
// and as a worker does (STARTED and SUCCESS of the same attempt, both with the descriptive
// fields). CPU µs per row, median of BENCH_RUNS runs.
//
//   npx tsc -p tsconfig.bench.json && node dist-bench/bench/redis-row-encoding.js

const TASKS = Number(process.env.BENCH_TASKS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 11);
/** The most events one flush of the BestEffortWriter takes (maxFlushItems, default). */
const FLUSH_EVENTS = 5_000;
/** What record() passes (redis-tracking-store.ts). */
const LIMITS: RowLimits = { rowsPerCall: 1_000, charsPerCall: 8 * 1024 * 1024 };
const NOW = Date.now();

function envelope(i: number, createdAt: number): TaskEnvelope {
  return {
    v: 1,
    id: `01J${String(i).padStart(23, "0")}`,
    function_key: "emails.send",
    payload: { to: `user${i}@example.com`, template: "welcome", n: i },
    queue: "default",
    priority: 5,
    attempt: 0,
    run: 0,
    created_at: new Date(createdAt).toISOString(),
    metadata: {},
  };
}

// Events built by the producer's and the worker's own function (tasks/task-events.ts), with the
// fields they assign after it (producer/prepared-task.ts, worker/attempt.ts, settlement.ts), so
// the objects have the shapes the store really receives.
const LIMITS_OF_TASK = { maxRetries: 3, timeoutMs: 30_000 };

function producerEvents(): TaskEvent[] {
  return Array.from({ length: TASKS }, (_, i) =>
    // Submitted now: the envelope's creation time is the event's time.
    taskEvent(envelope(i, NOW + i), "PENDING", NOW + i, LIMITS_OF_TASK),
  );
}

/** STARTED then SUCCESS per task, as a worker of concurrency 100 flushes them: interleaved. */
function workerEvents(): TaskEvent[] {
  const events: TaskEvent[] = [];
  const step = (i: number, status: TaskEvent["status"], at: number): TaskEvent => {
    const event = taskEvent(envelope(i, NOW - 60_000 + i), status, at, LIMITS_OF_TASK);
    event.workerId = "worker-1";
    event.deliveryCount = 1;
    event.startedAt = NOW + i;
    return event;
  };
  const succeeded = (i: number): TaskEvent => {
    const event = step(i, "SUCCESS", NOW + i + 2);
    event.completedAt = NOW + i + 2;
    event.durationMs = 2;
    event.result = { sent: true };
    return event;
  };
  const concurrency = 100;
  for (let i = 0; i < TASKS + concurrency; i += 1) {
    if (i < TASKS) events.push(step(i, "STARTED", NOW + i));
    if (i >= concurrency) events.push(succeeded(i - concurrency));
  }
  return events;
}

function flushes(events: TaskEvent[]): TaskEvent[][] {
  const out: TaskEvent[][] = [];
  for (let i = 0; i < events.length; i += FLUSH_EVENTS) out.push(events.slice(i, i + FLUSH_EVENTS));
  return out;
}

type Encoder = (events: readonly TaskEvent[], limits: RowLimits) => string[];

/** Rows the batches give: one per task per flush (a worker's two events may fall in two flushes). */
function rowCount(batches: TaskEvent[][]): number {
  let rows = 0;
  for (const batch of batches) rows += new Set(batch.map((e) => e.taskId)).size;
  return rows;
}

/**
 * CPU µs per row of encoding every flush (process CPU, GC threads included: the machine is
 * shared, and wall time would count other processes' turns). The first character of each
 * argument is read, which flattens a string built by concatenation as sending it would.
 */
function timeRun(encode: Encoder, batches: TaskEvent[][], rows: number): number {
  let checksum = 0;
  const cpu0 = process.cpuUsage();
  for (const batch of batches)
    for (const call of encode(batch, LIMITS)) checksum += call.charCodeAt(0);
  const cpu = process.cpuUsage(cpu0);
  if (checksum === 0) throw new Error("nothing encoded");
  return (cpu.user + cpu.system) / rows;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/**
 * Medians of both encoders, their runs alternated (after a warm-up of each) so that a change in
 * the machine's load during the measurement weighs on both alike.
 */
function measure(batches: TaskEvent[][]): { before: number; after: number } {
  const rows = rowCount(batches);
  const before: number[] = [];
  const after: number[] = [];
  timeRun(referenceRows, batches, rows);
  timeRun(encodeRows, batches, rows);
  for (let run = 0; run < RUNS; run += 1) {
    before.push(timeRun(referenceRows, batches, rows));
    after.push(timeRun(encodeRows, batches, rows));
  }
  return { before: median(before), after: median(after) };
}

const cases: [string, TaskEvent[][]][] = [
  ["producer: PENDING", flushes(producerEvents())],
  ["worker: STARTED + SUCCESS", flushes(workerEvents())],
];
console.log(`${TASKS.toLocaleString("en-US")} tasks, median of ${RUNS} runs, µs per row`);
console.log("| case | collapse + pushRowArgs | encodeRows | ratio |");
console.log("|---|---|---|---|");
for (const [name, batches] of cases) {
  // Both paths must agree here too, or the figures compare different work.
  const a = batches.flatMap((b) => referenceRows(b, LIMITS));
  const b = batches.flatMap((b) => encodeRows(b, LIMITS));
  if (a.length !== b.length || a.some((call, i) => call !== b[i])) {
    throw new Error(`${name}: the encoders disagree`);
  }
  const { before, after } = measure(batches);
  console.log(
    `| ${name} | ${before.toFixed(2)} | ${after.toFixed(2)} | ${(before / after).toFixed(1)}× |`,
  );
}
