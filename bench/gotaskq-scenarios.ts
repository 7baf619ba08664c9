import { performance } from "node:perf_hooks";
import type { Broker } from "../src/broker/broker.js";
import { openSqliteBroker } from "../src/broker/sqlite/sqlite-broker.js";
import { silentLogger } from "../src/logging/logger.js";
import { Producer } from "../src/producer/producer.js";
import { BestEffortWriter } from "../src/tracking/best-effort-writer.js";
import { openSqlTrackingStore } from "../src/tracking/sql/sql-tracking-store.js";
import { noTracking, type TrackingSink } from "../src/tracking/tracking-sink.js";
import type { TaskEvent, TrackingStore } from "../src/tracking/tracking-store.js";
import { TaskRegistry } from "../src/worker/registry.js";
import { Worker } from "../src/worker/worker.js";
import type { ChildSpec, NoopPayload } from "./protocol.js";
import { batches, deferred, type PreparedRole } from "./role.js";

// GoTaskQ's side of every scenario, wired as the CLI wires it (src/cli/commands/run.ts): the
// embedded SQLite broker, and either the SQLite tracking store behind the BestEffortWriter
// (tracking on) or `noTracking` (tracking off). Loggers are silent, as BullMQ logs nothing.
//
// A worker's completion is observed through the tracking sink it is given: the worker records
// SUCCESS only after the broker acked the delivery (settlement.ts), so counting SUCCESS events
// on a pass-through sink measures "acknowledged", the same point as BullMQ's `completed` event.

type GoTarget = Extract<ChildSpec["target"], { system: "gotaskq" }>;

const FUNCTION_KEY = "bench.noop";

function targetOf(spec: ChildSpec): GoTarget {
  if (spec.target.system !== "gotaskq") throw new Error("gotaskq-scenarios: wrong target");
  return spec.target;
}

interface TrackingSetup {
  sink: TrackingSink;
  /** Flushes and closes; returns the writer's counters for the report. */
  close(): Promise<Record<string, number | string>>;
}

async function openTracking(target: GoTarget): Promise<TrackingSetup> {
  if (target.trackingPath === undefined) {
    return { sink: noTracking, close: async () => ({}) };
  }
  const store: TrackingStore = await openSqlTrackingStore(`sqlite://${target.trackingPath}`);
  await store.migrate();
  const writer = new BestEffortWriter(store, { logger: silentLogger() });
  await writer.start();
  return {
    sink: writer,
    async close() {
      const started = performance.now();
      await writer.stop();
      const flushMs = Math.round(performance.now() - started);
      await store.close();
      const stats = writer.stats();
      return {
        "tracking items written": stats.written,
        "tracking items dropped": stats.dropped,
        "tracking store failures": stats.failures,
        "flush left at stop (ms)": flushMs,
      };
    },
  };
}

async function prepareProducer(
  spec: ChildSpec,
  broker: Broker,
  tracking: TrackingSetup,
): Promise<PreparedRole> {
  const producer = new Producer({ broker, tracking: tracking.sink, logger: silentLogger() });
  return {
    async run() {
      let accepted = 0;
      for (const [start, end] of batches(spec.tasks, spec.batchSize)) {
        const items: { function_key: string; queue: string; payload: NoopPayload }[] = [];
        for (let n = start; n < end; n++)
          items.push({ function_key: FUNCTION_KEY, queue: spec.queue, payload: { n } });
        const results = await producer.submitBatch(items);
        for (const r of results) {
          if (!r.ok) throw r.error;
          accepted++;
        }
      }
      const finishedAt = performance.now();
      return { count: accepted, finishedAt, details: await tracking.close() };
    },
    close: () => broker.close(),
  };
}

/** Passes every event on, and counts the final ones. */
function countingSink(inner: TrackingSink, onFinal: (event: TaskEvent) => void): TrackingSink {
  return {
    record(event) {
      inner.record(event);
      if (event.status === "SUCCESS" || event.status === "FAILURE" || event.status === "CANCELED")
        onFinal(event);
    },
    log: (line) => inner.log(line),
    heartbeat: (beat) => inner.heartbeat(beat),
  };
}

async function prepareWorker(
  spec: ChildSpec,
  broker: Broker,
  tracking: TrackingSetup,
): Promise<PreparedRole> {
  const finished = deferred<void>();
  let succeeded = 0;
  let notSucceeded = 0;
  const registry = new TaskRegistry().register<NoopPayload>(FUNCTION_KEY, async (payload) => {
    if (typeof payload.n !== "number") throw new Error("bench: payload without n");
  });
  const worker = new Worker({
    broker,
    registry,
    tracking: countingSink(tracking.sink, (event) => {
      if (event.status === "SUCCESS") succeeded++;
      else notSucceeded++;
      if (succeeded + notSucceeded === spec.tasks) finished.resolve();
    }),
    logger: silentLogger(),
    queues: [spec.queue],
    concurrency: spec.concurrency,
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await worker.stop();
  };
  return {
    async run() {
      await worker.start();
      await finished.promise;
      const finishedAt = performance.now();
      await stop();
      const details = await tracking.close();
      return {
        count: succeeded,
        finishedAt,
        details: { ...details, ...(notSucceeded > 0 ? { "not succeeded": notSucceeded } : {}) },
      };
    },
    async close() {
      await stop();
      await broker.close();
    },
  };
}

export async function prepareGoTaskQ(spec: ChildSpec): Promise<PreparedRole> {
  const target = targetOf(spec);
  const broker = openSqliteBroker({ path: target.brokerPath });
  const tracking = await openTracking(target);
  return spec.role === "producer"
    ? prepareProducer(spec, broker, tracking)
    : prepareWorker(spec, broker, tracking);
}
