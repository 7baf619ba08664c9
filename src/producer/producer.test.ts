import { afterEach, describe, expect, it } from "vitest";
import { CollectingSink } from "../../test/support/collecting-sink.js";
import type { Broker, OutgoingMessage } from "../broker/broker.js";
import { createMemoryBroker } from "../broker/memory/memory-broker.js";
import { createMemoryCoordinationStore } from "../coordination/memory/memory-coordination-store.js";
import { decodeEnvelope } from "../core/envelope.js";
import { GoTaskQError, InvalidArgumentError, UnknownFunctionError } from "../core/errors.js";
import { silentLogger } from "../logging/logger.js";
import { defineTasks } from "../tasks/registry.js";
import { ENVELOPE_OVERHEAD_BYTES, Producer } from "./producer.js";

// Submission: validated, published durably, then recorded. Nothing is enqueued for bad input.

let broker: Broker;
let sink: CollectingSink;
afterEach(async () => {
  await broker.close();
});

/** The memory broker, counting publish calls per queue. */
function counted(): { broker: Broker; publishes: Array<[string, number]> } {
  const inner = createMemoryBroker();
  const publishes: Array<[string, number]> = [];
  const wrapped = Object.assign(Object.create(inner) as Broker, {
    publish: (queue: string, messages: readonly OutgoingMessage[]) => {
      publishes.push([queue, messages.length]);
      return inner.publish(queue, messages);
    },
    close: () => inner.close(),
  });
  return { broker: wrapped, publishes };
}

async function ready(queue = "default") {
  return (await broker.stats(queue)).ready + (await broker.stats(queue)).delayed;
}

function producer(extra: Partial<ConstructorParameters<typeof Producer>[0]> = {}) {
  sink = new CollectingSink();
  return new Producer({ broker, tracking: sink, logger: silentLogger(), ...extra });
}

describe("Producer.submit", () => {
  it("publishes a v1 envelope and records PENDING with every descriptive field", async () => {
    broker = createMemoryBroker();
    const p = producer({
      now: () => Date.parse("2026-11-27T12:00:00.000Z"),
      coordination: createMemoryCoordinationStore(),
    });
    const task = await p.submit({
      function_key: "email.send",
      payload: { to: "a@b.c" },
      priority: 7,
      max_retries: 2,
      timeout_ms: 500,
      metadata: { tenant: "acme" },
      idempotency_key: "k-1",
    });
    expect(task).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: "PENDING",
      function_key: "email.send",
      queue: "default",
      priority: 7,
      run: 0,
      attempt: 0,
      created_at: "2026-11-27T12:00:00.000Z",
      duplicate: false,
    });
    expect(sink.events).toEqual([
      expect.objectContaining({
        taskId: task.id,
        status: "PENDING",
        run: 0,
        attempt: 0,
        functionKey: "email.send",
        queue: "default",
        priority: 7,
        payload: { to: "a@b.c" },
        maxRetries: 2,
        timeoutMs: 500,
        metadata: { tenant: "acme" },
        idempotencyKey: "k-1",
        createdAt: Date.parse("2026-11-27T12:00:00.000Z"),
      }),
    ]);
    const { entries } = await peek();
    expect(decodeEnvelope(entries)).toMatchObject({
      v: 1,
      id: task.id,
      priority: 7,
      attempt: 0,
      run: 0,
      max_retries: 2,
    });
  });

  it("schedules a delayed task and records when it runs", async () => {
    broker = createMemoryBroker();
    const now = Date.now();
    const task = await producer({ now: () => now }).submit({
      function_key: "later",
      delay_ms: 60_000,
    });
    expect(task.run_at).toBe(new Date(now + 60_000).toISOString());
    expect(sink.events[0]?.runAt).toBe(now + 60_000);
    expect(await broker.stats("default")).toMatchObject({ ready: 0, delayed: 1 });
  });

  it("refuses bad input with a message saying what to change, and enqueues nothing", async () => {
    broker = createMemoryBroker();
    const p = producer();
    await expect(p.submit({ function_key: "x", max_retry: 3 })).rejects.toThrow(
      /unknown field "max_retry"/,
    );
    await expect(p.submit({ function_key: "x", priority: 12 })).rejects.toThrow(
      "priority must be an integer between 0 and 9 (got 12)",
    );
    await expect(p.submit("nope")).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await ready()).toBe(0);
    expect(sink.events).toEqual([]);
  });

  it("caps the payload at the broker's message limit minus the envelope", async () => {
    broker = createMemoryBroker();
    const p = producer({ maxPayloadBytes: 50_000_000 });
    expect(p.maxPayloadBytes).toBe(broker.limits.maxMessageBytes - ENVELOPE_OVERHEAD_BYTES);
    await expect(
      p.submit({ function_key: "big", payload: "x".repeat(broker.limits.maxMessageBytes) }),
    ).rejects.toThrow(/payload is \d+ bytes; the limit is \d+ bytes/);
    expect(producer({ maxPayloadBytes: 10 }).maxPayloadBytes).toBe(10);
  });

  it("with a registry: refuses unknown keys (naming nearby ones) and bad payloads, applies the function's queue", async () => {
    broker = createMemoryBroker();
    const registry = defineTasks({
      "email.send": {
        queue: "mail",
        schema: { type: "object", required: ["to"] },
        handler: () => 1,
      },
    });
    const p = producer({ registry });
    const unknown = await p.submit({ function_key: "email.sned" }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(UnknownFunctionError);
    expect((unknown as Error).message).toBe(
      'unknown function_key "email.sned"; did you mean "email.send"? (registered functions: email.send)',
    );
    await expect(p.submit({ function_key: "email.send", payload: {} })).rejects.toThrow(
      'payload must have the field "to"',
    );
    expect((await p.submit({ function_key: "email.send", payload: { to: "x" } })).queue).toBe(
      "mail",
    );
    expect(
      (await p.submit({ function_key: "email.send", payload: { to: "x" }, queue: "urgent" })).queue,
    ).toBe("urgent");
    expect(await ready("mail")).toBe(1);
  });

  it("propagates broker errors: nothing is accepted or recorded", async () => {
    broker = createMemoryBroker();
    const p = producer();
    await broker.close();
    const error = await p.submit({ function_key: "x" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GoTaskQError);
    expect((error as GoTaskQError).code).toBe("unavailable");
    expect(sink.events).toEqual([]);
  });
});

describe("Producer.submitBatch", () => {
  it("submitBatch reports per-item errors and publishes the valid ones once per queue", async () => {
    const c = counted();
    broker = c.broker;
    const results = await producer().submitBatch([
      { function_key: "a" },
      { function_key: "bad key!" },
      { function_key: "b", queue: "other" },
      { function_key: "c" },
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, false, true, true]);
    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3]);
    const failed = results[1];
    expect(failed?.ok === false && failed.error.message).toMatch(/^function_key must match/);
    expect(failed?.ok === false && failed.error.code).toBe("invalid_argument");
    expect(c.publishes.sort()).toEqual([
      ["default", 2],
      ["other", 1],
    ]);
    expect(sink.events.map((e) => e.functionKey).sort()).toEqual(["a", "b", "c"]);
  });

  it("keeps each item's error class and answers an item its transport could not decode in place", async () => {
    broker = createMemoryBroker();
    const registry = defineTasks({ "email.send": () => 1 });
    const undecodable = new InvalidArgumentError("payload_json must be JSON text");
    const results = await producer({ registry }).submitBatch([
      { function_key: "email.send" },
      { function_key: "email.nope" },
      undecodable,
    ]);
    expect(results[0]).toMatchObject({ ok: true, index: 0 });
    expect(results[1]).toMatchObject({ ok: false, index: 1 });
    expect(results[1]?.ok === false && results[1].error).toBeInstanceOf(UnknownFunctionError);
    expect(results[2]).toEqual({ ok: false, index: 2, error: undecodable });
    expect(await ready()).toBe(1);
  });

  it("throws the broker error when nothing at all could be enqueued", async () => {
    broker = createMemoryBroker();
    const p = producer();
    await broker.close();
    await expect(
      p.submitBatch([{ function_key: "a" }, { function_key: "b" }]),
    ).rejects.toMatchObject({ code: "unavailable" });
  });

  it("refuses batches over the limit", async () => {
    broker = createMemoryBroker();
    await expect(producer({ maxBatchSize: 2 }).submitBatch([{}, {}, {}])).rejects.toThrow(
      /a batch must hold 1 to 2 tasks \(got 3\); split larger batches/,
    );
    await expect(producer().submitBatch([])).rejects.toThrow(/1 to 1000 tasks \(got 0\)/);
    await expect(producer().submitBatch("a" as never)).rejects.toThrow(
      /tasks must be an array of 1 to 1000 task objects/,
    );
  });
});

/** The body of the next message, left leased (a release here would be redelivered at once). */
async function peek(queue = "default") {
  const got = await new Promise<Uint8Array>((resolve) => {
    void broker.consume([queue], { prefetch: 1, leaseMs: 60_000 }, (d) => resolve(d.body));
  });
  return { entries: got };
}
