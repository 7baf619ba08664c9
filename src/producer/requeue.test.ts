import { afterEach, describe, expect, it } from "vitest";
import { WorkerHarness } from "../../test/support/worker-harness.js";
import { decodeEnvelope } from "../core/envelope.js";
import { PermanentError } from "../core/errors.js";
import { newTaskId } from "../core/ids.js";
import { defineTasks } from "../tasks/registry.js";
import type { TaskRecord } from "../tracking/tracking-store.js";

// Requeue = a fresh run of a FAILURE or CANCELED task: run + 1, attempt 0, same id, history kept.

let h: WorkerHarness;
afterEach(async () => {
  await h.cleanup();
});

/** A function that fails permanently until `fixed` is set. */
function fixable() {
  const state = { fixed: false };
  const registry = defineTasks({
    job: (payload) => {
      if (!state.fixed) throw new PermanentError("not yet");
      return payload;
    },
  });
  return { state, registry };
}

function record(fields: Partial<TaskRecord>): TaskRecord {
  return {
    id: newTaskId(),
    functionKey: "job",
    queue: "default",
    priority: 5,
    payload: { from: "tracking" },
    status: "FAILURE",
    run: 0,
    attempt: 2,
    maxRetries: 2,
    timeoutMs: null,
    metadata: { tenant: "acme" },
    idempotencyKey: null,
    createdAt: "2026-11-27T12:00:00.000Z",
    startedAt: null,
    completedAt: null,
    durationMs: null,
    runAt: null,
    result: null,
    error: null,
    workerId: null,
    deliveryCount: null,
    deadLetterReason: "retries_exhausted",
    updatedAt: "2026-11-27T12:00:00.000Z",
    ...fields,
  };
}

describe("Producer.requeue", () => {
  it("requeue from the DLQ runs the task again as run 1", async () => {
    h = new WorkerHarness();
    const { state, registry } = fixable();
    await h.started(registry, { queues: ["default", "mail"] });
    const id = await h.submit("job", { n: 1 }, { queue: "mail" });
    await h.sink.waitForStatus(id, "FAILURE");
    state.fixed = true;
    // No queue given: every queue's DLQ is searched.
    expect(await h.producer.requeue(id)).toEqual({
      id,
      queue: "mail",
      run: 1,
      source: "dead_letter_queue",
    });
    const done = await h.sink.waitForStatus(id, "SUCCESS");
    expect(done).toMatchObject({ run: 1, attempt: 0, result: { n: 1 } });
    expect(h.sink.trail(id)).toContain("PENDING@1.0");
    expect(await h.broker.stats("mail")).toMatchObject({ ready: 0, inFlight: 0, deadLettered: 0 });
  });

  it("republishes from the tracking record when no DLQ holds the task", async () => {
    h = new WorkerHarness();
    const { state, registry } = fixable();
    state.fixed = true;
    await h.started(registry);
    const failed = record({ run: 2 });
    const requeued = await h.producer.requeue(failed.id, {
      fromTracking: { get: async () => failed },
    });
    expect(requeued).toEqual({ id: failed.id, queue: "default", run: 3, source: "tracking" });
    const done = await h.sink.waitForStatus(failed.id, "SUCCESS");
    expect(done).toMatchObject({
      run: 3,
      attempt: 0,
      result: { from: "tracking" },
      metadata: { tenant: "acme" },
      maxRetries: 2,
    });
  });

  it("answers conflict when neither the DLQ nor tracking holds the payload", async () => {
    h = new WorkerHarness();
    await h.submit("job"); // makes the "default" queue known
    const id = newTaskId();
    await expect(h.producer.requeue(id)).rejects.toMatchObject({
      code: "conflict",
      message: expect.stringMatching(
        /not in the dead-letter queue of queue "default" and no tracking store/,
      ),
    });
    const running = record({ id, status: "STARTED" });
    await expect(
      h.producer.requeue(id, { fromTracking: { get: async () => running } }),
    ).rejects.toMatchObject({
      code: "conflict",
      message: `task ${id} is STARTED; only FAILURE or CANCELED tasks can be requeued`,
    });
    const bare = record({ id, functionKey: null });
    await expect(
      h.producer.requeue(id, { fromTracking: { get: async () => bare } }),
    ).rejects.toMatchObject({
      code: "conflict",
      message: expect.stringMatching(/has no payload to republish/),
    });
    await expect(
      h.producer.requeue(id, { fromTracking: { get: async () => undefined } }),
    ).rejects.toMatchObject({ code: "not_found" });
    await expect(h.producer.requeue("not-a-uuid")).rejects.toMatchObject({
      code: "invalid_argument",
    });
  });
});

describe("Producer.requeueDeadLetters", () => {
  it("requeues a selection of one queue's DLQ and leaves the rest", async () => {
    h = new WorkerHarness();
    const { registry } = fixable();
    const worker = await h.started(registry);
    const a = await h.submit("job");
    const b = await h.submit("unknown.fn");
    await h.sink.waitForStatus(a, "FAILURE");
    await h.sink.waitForStatus(b, "FAILURE");
    await worker.stop();
    const requeued = await h.producer.requeueDeadLetters("default", { reason: "unknown_function" });
    expect(requeued).toEqual([{ id: b, queue: "default", run: 1, source: "dead_letter_queue" }]);
    expect(await h.broker.stats("default")).toMatchObject({ ready: 1, deadLettered: 1 });
    expect(await h.producer.requeueDeadLetters("default", { all: true })).toHaveLength(1);
  });

  it("puts an undecodable entry back unchanged", async () => {
    h = new WorkerHarness();
    const worker = await h.started(defineTasks({ job: () => 1 }));
    const id = newTaskId();
    const body = new TextEncoder().encode("garbage");
    await h.broker.publish("default", [{ id, body, priority: 5, delayMs: 0 }]);
    await h.sink.waitForStatus(id, "FAILURE");
    await worker.stop();
    expect(await h.producer.requeueDeadLetters("default", { ids: [id] })).toEqual([
      { id, queue: "default", run: 0, source: "dead_letter_queue" },
    ]);
    const got = await new Promise<Uint8Array>((resolve) => {
      void h.broker.consume(["default"], { prefetch: 1, leaseMs: 60_000 }, (d) => resolve(d.body));
    });
    expect(new TextDecoder().decode(got)).toBe("garbage");
    expect(() => decodeEnvelope(got)).toThrow();
  });
});
