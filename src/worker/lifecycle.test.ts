import { afterEach, describe, expect, it } from "vitest";
import { deferred, WorkerHarness } from "../../test/support/worker-harness.js";
import type { Broker, Delivery } from "../broker/broker.js";
import { createMemoryBroker } from "../broker/memory/memory-broker.js";
import { sleep } from "../core/lifecycle.js";
import { silentLogger } from "../logging/logger.js";
import { defineTasks } from "../tasks/registry.js";
import { ShutdownAbort } from "./execution.js";
import { installSignalHandlers } from "./signals.js";

// Start, stop, leases, heartbeats and resilience: the worker's life around its handlers.

let h: WorkerHarness;
afterEach(async () => {
  await h.cleanup();
});

describe("Worker lifecycle", () => {
  it("lets running tasks finish within the shutdown grace period", async () => {
    h = new WorkerHarness();
    const worker = await h.started(defineTasks({ short: () => sleep(80).then(() => "finished") }));
    const id = await h.submit("short");
    await h.sink.waitForStatus(id, "STARTED");
    await worker.stop();
    expect(h.sink.eventsOf(id).at(-1)).toMatchObject({ status: "SUCCESS", result: "finished" });
    expect(worker.running).toBe(0);
  });

  it("releases unfinished deliveries on shutdown", async () => {
    h = new WorkerHarness();
    const seen: unknown[] = [];
    const first = await h.started(
      defineTasks({
        endless: (_p, ctx) =>
          new Promise((_r, reject) =>
            ctx.signal.addEventListener("abort", () => {
              seen.push(ctx.signal.reason);
              reject(ctx.signal.reason);
            }),
          ),
      }),
      { shutdownGraceMs: 50 },
    );
    const id = await h.submit("endless");
    await h.sink.waitForStatus(id, "STARTED");
    await first.stop();
    expect(seen).toEqual([expect.any(ShutdownAbort)]);
    expect(await h.broker.stats("default")).toMatchObject({
      ready: 1,
      inFlight: 0,
      deadLettered: 0,
    });
    expect(h.sink.trail(id).filter((s) => s !== "PENDING@0.0")).toEqual(["STARTED@0.0"]);
    // Another worker picks it up at once, and the release did not count as a failed delivery.
    await h.started(defineTasks({ endless: () => "second worker" }));
    expect(await h.sink.waitForStatus(id, "SUCCESS")).toMatchObject({
      attempt: 0,
      deliveryCount: 1,
    });
  });

  it("stops fetching on stop, is idempotent, and sends a final heartbeat", async () => {
    h = new WorkerHarness();
    const worker = await h.started(defineTasks({ echo: (p) => p }), {
      workerId: "w-1",
      concurrency: 4,
      queues: ["default", "mail"],
    });
    await Promise.all([worker.stop(), worker.stop()]);
    await worker.stop();
    const id = await h.submit("echo");
    await sleep(30);
    expect(h.sink.eventsOf(id).map((e) => e.status)).toEqual(["PENDING"]);
    expect(await h.broker.stats("default")).toMatchObject({ ready: 1 });
    const beats = h.sink.heartbeats;
    expect(beats.filter((b) => b.stoppedAt !== undefined)).toHaveLength(1);
    expect(beats.at(-1)).toMatchObject({
      workerId: "w-1",
      pid: process.pid,
      queues: ["default", "mail"],
      concurrency: 4,
      running: 0,
      functions: ["echo"],
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      stoppedAt: expect.any(Number),
    });
    await expect(worker.start()).rejects.toThrow(/create a new Worker/);
  });

  it("fails to start on an unreachable broker, and stops quietly afterwards", async () => {
    h = new WorkerHarness();
    await h.broker.close();
    const worker = h.worker(defineTasks({ echo: (p) => p }));
    await expect(worker.start()).rejects.toMatchObject({ code: "unavailable" });
    await worker.stop();
    expect(h.sink.heartbeats).toEqual([]);
  });

  it("publishes heartbeats periodically with the running count", async () => {
    h = new WorkerHarness();
    const gate = deferred();
    await h.started(defineTasks({ hold: () => gate.promise }), { heartbeatIntervalMs: 20 });
    const id = await h.submit("hold");
    await h.sink.waitForStatus(id, "STARTED");
    await h.sink.waitUntil(
      () => h.sink.heartbeats.some((b) => b.running === 1),
      "a heartbeat with one running task",
    );
    gate.resolve();
  });

  it("keeps the lease of a long task alive", async () => {
    h = new WorkerHarness();
    const registry = defineTasks({ long: () => sleep(400).then(() => "done") });
    await h.started(registry, { leaseMs: 90, workerId: "holder" });
    const id = await h.submit("long");
    await h.sink.waitForStatus(id, "STARTED");
    // A second worker waits for anything that becomes visible again.
    await h.started(registry, { leaseMs: 90, workerId: "thief" });
    const done = await h.sink.waitForStatus(id, "SUCCESS");
    expect(done).toMatchObject({ workerId: "holder", deliveryCount: 1 });
    expect(h.sink.eventsOf(id).filter((e) => e.status === "STARTED")).toHaveLength(1);
  });

  it("survives a failed ack: the broker redelivers and the task runs again", async () => {
    let failAcks = 1;
    const broker = failingAcks(createMemoryBroker(), () => failAcks-- > 0);
    h = new WorkerHarness(broker);
    let runs = 0;
    await h.started(defineTasks({ once: () => ++runs }), { leaseMs: 60 });
    const id = await h.submit("once");
    await h.sink.waitForStatus(id, "SUCCESS");
    expect(runs).toBe(2);
    expect(h.sink.eventsOf(id).find((e) => e.status === "SUCCESS")?.deliveryCount).toBe(2);
  });

  it("keeps running when the tracking sink throws", async () => {
    h = new WorkerHarness();
    const worker = h.worker(defineTasks({ echo: () => "fine" }), {
      tracking: {
        // Sees every event (so the test can await it), then breaks the "never throws" contract.
        record: (event) => {
          h.sink.record(event);
          throw new Error("tracking is down");
        },
        log: () => {},
        heartbeat: () => {
          throw new Error("tracking is down");
        },
      },
    });
    await worker.start();
    const first = await h.submit("echo");
    await h.sink.waitForStatus(first, "SUCCESS");
    const second = await h.submit("echo");
    await h.sink.waitForStatus(second, "SUCCESS");
    await worker.onIdle();
    expect(await h.broker.stats("default")).toMatchObject({
      ready: 0,
      inFlight: 0,
      deadLettered: 0,
    });
  });

  it("stops gracefully on a signal and exits 0", async () => {
    h = new WorkerHarness();
    const worker = await h.started(defineTasks({ echo: (p) => p }));
    const exited = deferred<number>();
    const uninstall = installSignalHandlers(worker, silentLogger(), {
      signals: ["SIGUSR2"],
      exit: exited.resolve,
    });
    try {
      process.emit("SIGUSR2", "SIGUSR2");
      expect(await exited.promise).toBe(0);
      expect(h.sink.heartbeats.at(-1)?.stoppedAt).toBeDefined();
    } finally {
      uninstall();
    }
  });
});

/** A broker whose deliveries' ack rejects while `fail()` says so (a broker hiccup). */
function failingAcks(broker: Broker, fail: () => boolean): Broker {
  const consume: Broker["consume"] = (queues, options, onDelivery) =>
    broker.consume(queues, options, (d) =>
      onDelivery(
        Object.assign(Object.create(d) as Delivery, {
          ack: () => (fail() ? Promise.reject(new Error("connection reset")) : d.ack()),
        }),
      ),
    );
  // A Proxy reading through to the broker itself, not an object inheriting from it: the broker's
  // getters and methods use private fields, which only the broker instance has.
  return new Proxy(broker, {
    get(target, property) {
      if (property === "consume") return consume;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
