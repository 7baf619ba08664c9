import { performance } from "node:perf_hooks";
import { openBroker } from "../src/backends/open.js";
import type { Broker } from "../src/broker/broker.js";
import { silentLogger } from "../src/logging/logger.js";
import { Producer } from "../src/producer/producer.js";
import { TaskRegistry } from "../src/tasks/registry.js";
import { noTracking, type TrackingSink } from "../src/tracking/tracking-sink.js";
import { Worker } from "../src/worker/worker.js";
import { floorMode, openFloorStore } from "./floor-tracking-store.js";
import type { ChildSpec, NoopPayload } from "./protocol.js";
import { batches, deferred, type PreparedRole } from "./role.js";

// GoTaskQ's side of every scenario, wired as the CLI wires it (src/cli/commands/run.ts): the
// broker and tracking store opened by URL (`GOTASKQ_BROKER_URL` / `GOTASKQ_TRACKING_URL`), the
// tracking store behind the BestEffortWriter (tracking on) or `noTracking` (tracking off). Loggers are silent, as BullMQ logs nothing.
//
// A worker's completion: the handler counts its runs; once it ran for every task, the worker's
// `onIdle()` resolves when no delivery is held any more, i.e. when the last ack has committed —
// the same point as BullMQ's `completed` event. The tracking sink is handed over untouched, so
// the bench never forces work (building events) that a real worker could skip.

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
  if (target.trackingUrl === undefined) {
    return { sink: noTracking, close: async () => ({}) };
  }
  // Imported only with tracking on, so a tracking-off child does not carry the stores in its RSS.
  const { openTracking: openStore } = await import("../src/backends/open.js");
  const { BestEffortWriter } = await import("../src/tracking/best-effort-writer.js");
  // BENCH_TRACKING_FLOOR swaps the Redis tracking store for a stand-in doing part of its work
  // (bench/floor-tracking-store.ts): what tracking costs at best.
  const floor = floorMode(process.env);
  const store =
    floor !== undefined && target.trackingUrl.startsWith("redis")
      ? openFloorStore(target.trackingUrl, floor)
      : await openStore(target.trackingUrl);
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
        "tracking store": store.kind,
        "tracking items written": stats.written,
        "tracking items dropped": stats.dropped,
        "tracking store failures": stats.failures,
        "flush left at stop (ms)": flushMs,
      };
    },
  };
}

function prepareProducer(spec: ChildSpec, broker: Broker, tracking: TrackingSetup): PreparedRole {
  const producer = new Producer({ broker, tracking: tracking.sink, logger: silentLogger() });
  return {
    async run() {
      let accepted = 0;
      for (const [start, end] of batches(spec.tasks, spec.batchSize)) {
        const items: { function_key: string; queue: string; payload: NoopPayload }[] = [];
        for (let n = start; n < end; n++) {
          items.push({ function_key: FUNCTION_KEY, queue: spec.queue, payload: { n } });
        }
        for (const result of await producer.submitBatch(items)) {
          if (!result.ok) throw result.error;
          accepted++;
        }
      }
      const finishedAt = performance.now();
      return { count: accepted, finishedAt, details: await tracking.close() };
    },
    close: () => broker.close(),
  };
}

function prepareWorker(spec: ChildSpec, broker: Broker, tracking: TrackingSetup): PreparedRole {
  const allHandled = deferred<void>();
  let handled = 0;
  const registry = new TaskRegistry().register<NoopPayload>(FUNCTION_KEY, async (payload) => {
    if (typeof payload.n !== "number") throw new Error("bench: payload without n");
    handled++;
    if (handled === spec.tasks) allHandled.resolve();
  });
  const worker = new Worker({
    broker,
    registry,
    tracking: tracking.sink,
    logger: silentLogger(),
    queues: [spec.queue],
    concurrency: spec.concurrency,
  });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= worker.stop();
    return stopping;
  };
  return {
    async run() {
      await worker.start();
      await allHandled.promise;
      await worker.onIdle();
      const finishedAt = performance.now();
      // Not measured: check that every task was acked (none left, none dead-lettered).
      const stats = await broker.stats(spec.queue);
      await stop();
      const left = stats.ready + stats.inFlight + stats.delayed;
      return {
        count:
          left === 0 && stats.deadLettered === 0 ? handled : handled - left - stats.deadLettered,
        finishedAt,
        details: {
          ...(await tracking.close()),
          ...(left > 0 ? { "left in queue": left } : {}),
          ...(stats.deadLettered > 0 ? { "dead-lettered": stats.deadLettered } : {}),
        },
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
  // Silent, as BullMQ logs nothing (the Redis durability warning would repeat in every child).
  const broker = await openBroker(target.brokerUrl, { logger: silentLogger() });
  const tracking = await openTracking(target);
  return spec.role === "producer"
    ? prepareProducer(spec, broker, tracking)
    : prepareWorker(spec, broker, tracking);
}
