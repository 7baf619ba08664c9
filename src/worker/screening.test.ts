import { afterEach, describe, expect, it } from "vitest";
import { deferred, WorkerHarness } from "../../test/support/worker-harness.js";
import type { Delivery } from "../broker/broker.js";
import { newTaskId } from "../core/ids.js";
import { defineTasks } from "../tasks/registry.js";

// Deliveries that must never reach a handler: they are dead-lettered with a reason, recorded as
// FAILURE, and never crash or stall the worker.

let h: WorkerHarness;
afterEach(async () => {
  await h.cleanup();
});

async function deadLetters(queue = "default") {
  return (await h.broker.deadLetters(queue).list({ limit: 100 })).entries;
}

describe("Worker screening", () => {
  it("dead-letters undecodable messages", async () => {
    h = new WorkerHarness();
    await h.started(defineTasks({ echo: (p) => p }));
    const garbage = newTaskId();
    const wrongVersion = newTaskId();
    await h.broker.publish("default", [
      { id: garbage, body: new TextEncoder().encode("{not json"), priority: 5, delayMs: 0 },
      {
        id: wrongVersion,
        body: new TextEncoder().encode(JSON.stringify({ v: 9, id: wrongVersion })),
        priority: 5,
        delayMs: 0,
      },
    ]);
    const failed = await h.sink.waitForStatus(garbage, "FAILURE");
    expect(failed).toMatchObject({ deadLetterReason: "decode_error", queue: "default" });
    expect(await h.sink.waitForStatus(wrongVersion, "FAILURE")).toMatchObject({
      deadLetterReason: "decode_error",
    });
    expect((await deadLetters()).map((e) => [e.id, e.reason])).toEqual([
      [garbage, "decode_error"],
      [wrongVersion, "decode_error"],
    ]);
    // The worker is still healthy.
    const ok = await h.submit("echo", { still: "alive" });
    expect((await h.sink.waitForStatus(ok, "SUCCESS")).result).toEqual({ still: "alive" });
  });

  it("dead-letters unknown functions, naming the registered ones", async () => {
    h = new WorkerHarness();
    await h.started(defineTasks({ "email.send": () => "sent" }));
    const id = await h.submit("email.sned");
    const failed = await h.sink.waitForStatus(id, "FAILURE");
    expect(failed.deadLetterReason).toBe("unknown_function");
    expect(failed.error?.message).toMatch(
      /no function "email.sned" is registered .*\(registered: email.send\)/,
    );
    expect(await deadLetters()).toMatchObject([{ id, reason: "unknown_function" }]);
  });

  it("hands an unknown function back while too young to know every live worker, then dead-letters it once", async () => {
    h = new WorkerHarness();
    // Young for 2 presence intervals: long enough here to see the hand-backs.
    const worker = await h.started(defineTasks({ "email.send": () => "sent" }), {
      presenceIntervalMs: 150,
    });
    const startedAt = Date.now();
    const id = await h.submit("email.sned");
    const failed = await h.sink.waitForStatus(id, "FAILURE");
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(300);
    expect(failed).toMatchObject({ deadLetterReason: "unknown_function", attempt: 0 });
    // Handed back without a trace: no attempt started, none counted.
    expect(h.sink.trail(id).sort()).toEqual(["FAILURE@0.0", "PENDING@0.0"]);
    expect(await deadLetters()).toMatchObject([{ id, reason: "unknown_function" }]);
    expect(worker.running).toBe(0);
  });

  it("dead-letters poison messages without running them", async () => {
    h = new WorkerHarness();
    let ran = 0;
    const id = await h.submit("crashy");
    // Two consumers that vanish mid-task (their leases expire), as crashed workers would.
    for (let i = 0; i < 2; i++) {
      const got = deferred<Delivery>();
      const consumer = await h.broker.consume(["default"], { prefetch: 1, leaseMs: 30 }, (d) =>
        got.resolve(d),
      );
      expect((await got.promise).deliveryCount).toBe(i + 1);
      await consumer.close();
    }
    await h.started(defineTasks({ crashy: () => ran++ }), { maxDeliveries: 2 });
    const failed = await h.sink.waitForStatus(id, "FAILURE");
    expect(failed).toMatchObject({ deadLetterReason: "poison", deliveryCount: 3 });
    expect(failed.error?.message).toMatch(/delivered 3 times without finishing \(limit 2\)/);
    expect(ran).toBe(0);
  });

  it("dead-letters a payload its schema refuses, as a permanent error", async () => {
    h = new WorkerHarness();
    let ran = 0;
    const registry = defineTasks({
      "email.send": {
        schema: {
          type: "object",
          required: ["to"],
          properties: { to: { type: "string", format: "email" } },
        },
        handler: () => ran++,
      },
    });
    await h.started(registry);
    // Published by a producer that does not know the registry, so the worker is the one to check.
    const id = await h.submit("email.send", { to: 42 }, { max_retries: 3 });
    const failed = await h.sink.waitForStatus(id, "FAILURE");
    expect(failed).toMatchObject({ attempt: 0, deadLetterReason: "permanent_error" });
    expect(failed.error?.message).toContain("payload.to must be string");
    expect(ran).toBe(0);
  });
});
