import { afterEach, describe, expect, it } from "vitest";
import { CollectingSink } from "../../test/support/collecting-sink.js";
import { deferred } from "../../test/support/worker-harness.js";
import type { Broker } from "../broker/broker.js";
import { createMemoryBroker } from "../broker/memory/memory-broker.js";
import type { CoordinationStore } from "../coordination/coordination-store.js";
import { createMemoryCoordinationStore } from "../coordination/memory/memory-coordination-store.js";
import { PermanentError } from "../core/errors.js";
import { silentLogger } from "../logging/logger.js";
import { Producer } from "../producer/producer.js";
import { defineTasks, type TaskRegistry } from "../tasks/registry.js";
import { Worker } from "./worker.js";

// The worker frees a unique task's key when the task starts (until "started") or ends (until
// "finished", or any end), so the next submission with the key enqueues a new task.

let broker: Broker;
let store: CoordinationStore;
let worker: Worker | undefined;
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
  await broker.close();
  await store.close();
});

function setUp(registry: TaskRegistry, coordination: boolean = true) {
  broker = createMemoryBroker();
  store = createMemoryCoordinationStore();
  const sink = new CollectingSink();
  const producer = new Producer({ broker, coordination: store, logger: silentLogger() });
  worker = new Worker({
    broker,
    registry,
    tracking: sink,
    logger: silentLogger(),
    heartbeatIntervalMs: 50,
    ...(coordination ? { coordination: store } : {}),
  });
  return { producer, sink, worker };
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("unique keys released by the worker", () => {
  it('frees the key when the task starts (until "started")', async () => {
    const gate = deferred();
    const { producer, worker: w } = setUp(
      defineTasks({ "report.build": async () => gate.promise }),
    );
    const submission = { function_key: "report.build", payload: { u: 1 }, unique: {} };
    const first = await producer.submit(submission);
    expect((await producer.submit(submission)).duplicate).toBe(true);
    await w.start();
    await eventually(async () => (await store.list("unique:", { limit: 10 })).entries.length === 0);
    const second = await producer.submit(submission);
    expect(second).toMatchObject({ duplicate: false });
    expect(second.id).not.toBe(first.id);
    gate.resolve();
  });

  it('holds the key while the task runs and frees it when it ends (until "finished")', async () => {
    const gate = deferred();
    const started = deferred();
    const {
      producer,
      sink,
      worker: w,
    } = setUp(
      defineTasks({
        "report.build": async () => {
          started.resolve();
          await gate.promise;
        },
      }),
    );
    const submission = {
      function_key: "report.build",
      payload: { u: 1 },
      unique: { until: "finished" },
    };
    const first = await producer.submit(submission);
    await w.start();
    await started.promise;
    expect(await producer.submit(submission)).toMatchObject({ id: first.id, duplicate: true });
    gate.resolve();
    await sink.waitForStatus(first.id, "SUCCESS");
    await eventually(async () => (await producer.submit(submission)).duplicate === false);
  });

  it("frees the key of a task that is dead-lettered", async () => {
    const {
      producer,
      sink,
      worker: w,
    } = setUp(
      defineTasks({
        "report.build": async () => {
          throw new PermanentError("no");
        },
      }),
    );
    const submission = { function_key: "report.build", unique: { until: "finished" } };
    const first = await producer.submit(submission);
    await w.start();
    await sink.waitForStatus(first.id, "FAILURE");
    await eventually(async () => (await store.list("unique:", { limit: 10 })).entries.length === 0);
  });

  it("never touches the coordination store for tasks without a unique key", async () => {
    const { producer, sink, worker: w } = setUp(defineTasks({ "plain.task": () => 1 }), false);
    let calls = 0;
    for (const name of ["claim", "read", "release", "replace"] as const) {
      const original = store[name].bind(store) as (...a: unknown[]) => Promise<unknown>;
      (store as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
        calls += 1;
        return original(...args);
      };
    }
    const task = await producer.submit({ function_key: "plain.task" });
    await w.start();
    await sink.waitForStatus(task.id, "SUCCESS");
    expect(calls).toBe(0);
  });
});
