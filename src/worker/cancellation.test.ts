import { afterEach, describe, expect, it } from "vitest";
import { deferred, WorkerHarness } from "../../test/support/worker-harness.js";
import { createMemoryBroker, createMemoryNamespace } from "../broker/memory/memory-broker.js";
import { CanceledError, TimeoutError } from "../core/errors.js";
import { sleep } from "../core/lifecycle.js";
import { defineTasks } from "../tasks/registry.js";
import type { TaskRecord } from "../tracking/tracking-store.js";

// Cancellation travels through the broker's control channel only (workers never read tracking):
// a queued task is acked without running, a running one sees its signal abort; either way the
// result is CANCELED and it is never retried.

let h: WorkerHarness;
afterEach(async () => {
  await h.cleanup();
});

describe("Worker cancellation", () => {
  it("cancels a queued task without running it", async () => {
    h = new WorkerHarness();
    const gate = deferred();
    const ran: string[] = [];
    await h.started(
      defineTasks({
        blocker: () => gate.promise,
        victim: (_p, ctx) => {
          ran.push(ctx.taskId);
        },
      }),
      { concurrency: 1 },
    );
    const blocker = await h.submit("blocker");
    await h.sink.waitForStatus(blocker, "STARTED");
    const victim = await h.submit("victim");
    await h.producer.cancel(victim);
    gate.resolve();
    const canceled = await h.sink.waitForStatus(victim, "CANCELED");
    expect(canceled.error).toMatchObject({
      type: "CanceledError",
      message: "revoked before it ran",
    });
    expect(ran).toEqual([]);
    expect(h.sink.trail(victim)).not.toContain("STARTED@0.0");
    expect(await h.broker.stats("default")).toMatchObject({
      ready: 0,
      inFlight: 0,
      deadLettered: 0,
    });
  });

  it("cancels a running task within milliseconds and does not retry it", async () => {
    h = new WorkerHarness();
    const reasons: unknown[] = [];
    await h.started(
      defineTasks({
        long: async (_p, ctx) => {
          await sleep(10_000, ctx.signal).catch((reason: unknown) => {
            reasons.push(reason);
            throw reason;
          });
        },
      }),
    );
    const id = await h.submit("long", {}, { max_retries: 5 });
    await h.sink.waitForStatus(id, "STARTED");
    const asked = Date.now();
    await h.producer.cancel(id);
    const canceled = await h.sink.waitForStatus(id, "CANCELED");
    // Milliseconds on an idle machine; the bound leaves room for a loaded CI box (timeout is 10 s).
    expect(canceled.at - asked).toBeLessThan(250);
    expect(canceled.attempt).toBe(0);
    expect(reasons[0]).toBeInstanceOf(CanceledError);
    await sleep(50);
    expect(h.sink.trail(id).filter((s) => s !== "PENDING@0.0")).toEqual([
      "STARTED@0.0",
      "CANCELED@0.0",
    ]);
    expect(await h.broker.stats("default")).toMatchObject({
      ready: 0,
      inFlight: 0,
      delayed: 0,
      deadLettered: 0,
    });
  });

  it("cancels a running task that ignores its signal once the grace period is over", async () => {
    h = new WorkerHarness();
    const never = deferred();
    await h.started(defineTasks({ deaf: () => never.promise }), { graceMs: 50 });
    const id = await h.submit("deaf");
    await h.sink.waitForStatus(id, "STARTED");
    await h.producer.cancel(id);
    const canceled = await h.sink.waitForStatus(id, "CANCELED");
    expect(canceled.durationMs).toBeGreaterThanOrEqual(45);
  });

  it("gives an aborted signal to a handler that first reads it after the timeout", async () => {
    h = new WorkerHarness();
    const seen = deferred<{ aborted: boolean; reason: unknown }>();
    await h.started(
      defineTasks({
        late: async (_p, ctx) => {
          await sleep(150);
          seen.resolve({ aborted: ctx.signal.aborted, reason: ctx.signal.reason });
        },
      }),
      { graceMs: 5_000 },
    );
    await h.submit("late", {}, { timeout_ms: 30 });
    const { aborted, reason } = await seen.promise;
    expect(aborted).toBe(true);
    expect(reason).toBeInstanceOf(TimeoutError);
  });

  it("honours a revocation issued before the worker started", async () => {
    const namespace = createMemoryNamespace();
    h = new WorkerHarness(createMemoryBroker({ namespace }));
    const id = await h.submit("echo", {}, { delay_ms: 50 });
    await h.producer.cancel(id);
    // A worker process that starts later, on its own broker client: it learns from the replay.
    const late = new WorkerHarness(createMemoryBroker({ namespace }));
    let ran = 0;
    try {
      await late.started(defineTasks({ echo: () => ran++ }));
      await late.sink.waitForStatus(id, "CANCELED");
      expect(ran).toBe(0);
    } finally {
      await late.cleanup();
      namespace.close();
    }
  });

  it("records CANCELED at once for a delayed task when the producer may read tracking", async () => {
    h = new WorkerHarness();
    const id = await h.submit("echo", {}, { delay_ms: 60_000 });
    const record = { id, status: "PENDING", run: 0, attempt: 0 } as TaskRecord;
    await h.producer.cancel(id, { fromTracking: { get: async () => record } });
    expect(await h.sink.waitForStatus(id, "CANCELED")).toMatchObject({ run: 0, attempt: 0 });
  });

  it("runs a task again when it is requeued after a cancel", async () => {
    h = new WorkerHarness();
    let runs = 0;
    await h.started(defineTasks({ echo: () => ++runs }));
    const id = await h.submit("echo", {}, { delay_ms: 30 });
    await h.producer.cancel(id);
    await h.sink.waitForStatus(id, "CANCELED");
    const record = {
      id,
      status: "CANCELED",
      run: 0,
      attempt: 0,
      functionKey: "echo",
      queue: "default",
      priority: 5,
      payload: {},
      maxRetries: null,
      timeoutMs: null,
      metadata: {},
      idempotencyKey: null,
      createdAt: new Date().toISOString(),
    } as unknown as TaskRecord;
    // The revocation stays in the worker's memory; it must not swallow the new run.
    await h.producer.requeue(id, { fromTracking: { get: async () => record } });
    expect(await h.sink.waitForStatus(id, "SUCCESS", { run: 1 })).toMatchObject({
      attempt: 0,
      result: 1,
    });
  });
});
