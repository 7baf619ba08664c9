import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { deferred, WorkerHarness } from "../../test/support/worker-harness.js";
import { PermanentError, TimeoutError } from "../core/errors.js";
import { sleep } from "../core/lifecycle.js";
import { supersedes } from "../core/status.js";
import { defineTasks } from "../tasks/registry.js";
import type { TaskEvent } from "../tracking/tracking-store.js";

// Execution semantics, identical on every broker, pinned here on the memory broker: outcomes, retries, timeouts, the grace
// period, concurrency, the event trail and the log lines.

let h: WorkerHarness;
afterEach(async () => {
  await h.cleanup();
});

describe("Worker execution", () => {
  it("runs a handler and records SUCCESS with its result and duration", async () => {
    h = new WorkerHarness();
    await h.started(
      defineTasks({
        "math.add": (p) => (p as { a: number; b: number }).a + (p as { a: number; b: number }).b,
      }),
    );
    const id = await h.submit("math.add", { a: 2, b: 3 });
    const done = await h.sink.waitForStatus(id, "SUCCESS");
    expect(done).toMatchObject({
      result: 5,
      attempt: 0,
      run: 0,
      functionKey: "math.add",
      deliveryCount: 1,
    });
    expect(done.durationMs).toBeGreaterThanOrEqual(0);
    expect(await h.broker.stats("default")).toMatchObject({
      ready: 0,
      inFlight: 0,
      delayed: 0,
      deadLettered: 0,
    });
  });

  it("gives the handler its context", async () => {
    h = new WorkerHarness();
    const seen = deferred<Record<string, unknown>>();
    await h.started(
      defineTasks({
        "ctx.peek": (_p, ctx) => seen.resolve({ ...ctx, signal: ctx.signal.aborted }),
      }),
    );
    const id = await h.submit("ctx.peek", {}, { metadata: { tenant: "acme" }, queue: "default" });
    expect(await seen.promise).toMatchObject({
      taskId: id,
      functionKey: "ctx.peek",
      attempt: 0,
      run: 0,
      deliveryCount: 1,
      queue: "default",
      metadata: { tenant: "acme" },
      signal: false,
    });
  });

  it("hands over signal and log as properties that a spread of the context keeps", async () => {
    h = new WorkerHarness();
    const seen = deferred<Record<string, unknown>>();
    await h.started(defineTasks({ "ctx.spread": (_p, ctx) => seen.resolve({ ...ctx }) }));
    await h.submit("ctx.spread");
    const copy = await seen.promise;
    expect(copy.signal).toBeInstanceOf(AbortSignal);
    expect(copy.log).toMatchObject({ info: expect.any(Function), error: expect.any(Function) });
    expect(Object.keys(copy)).toEqual(expect.arrayContaining(["signal", "log", "metadata"]));
  });

  it("builds no events for a sink that says it is disabled", async () => {
    h = new WorkerHarness();
    const calls: string[] = [];
    const off = {
      enabled: false,
      record: () => calls.push("record"),
      log: () => calls.push("log"),
      heartbeat: () => {},
    };
    const ran = deferred();
    const worker = await h.started(
      defineTasks({
        quiet: (_p, ctx) => {
          ctx.log.info("not stored");
          ran.resolve();
        },
      }),
      { tracking: off },
    );
    await h.submit("quiet");
    await ran.promise;
    await worker.onIdle();
    expect(calls).toEqual([]);
  });

  it("retries with backoff and succeeds on a later attempt", async () => {
    h = new WorkerHarness();
    await h.started(
      defineTasks({
        flaky: {
          backoff: { type: "fixed", delay_ms: 30 },
          handler: (_p, ctx) => {
            if (ctx.attempt < 2) throw new Error(`boom ${ctx.attempt}`);
            return "ok";
          },
        },
      }),
    );
    const id = await h.submit("flaky");
    const done = await h.sink.waitForStatus(id, "SUCCESS");
    expect(done.attempt).toBe(2);
    const retry = await h.sink.waitForStatus(id, "PENDING", { attempt: 1 });
    expect(retry.error).toMatchObject({ message: "boom 0", type: "Error" });
    expect(retry.runAt).toBeGreaterThanOrEqual(retry.at + 30);
  });

  it("dead-letters a task whose retries are exhausted", async () => {
    h = new WorkerHarness();
    await h.started(
      defineTasks({ "always.fail": (_p, ctx) => Promise.reject(new Error(`nope ${ctx.attempt}`)) }),
    );
    const id = await h.submit("always.fail", {}, { max_retries: 2 });
    const failed = await h.sink.waitForStatus(id, "FAILURE");
    expect(failed).toMatchObject({
      attempt: 2,
      deadLetterReason: "retries_exhausted",
      error: { message: "nope 2" },
    });
    const { entries } = await h.broker.deadLetters("default").list({ limit: 10 });
    expect(entries).toMatchObject([{ id, reason: "retries_exhausted", detail: "nope 2" }]);
    expect(h.sink.trail(id).filter((s) => s.startsWith("STARTED"))).toHaveLength(3);
  });

  it("dead-letters a PermanentError at once, without retrying", async () => {
    h = new WorkerHarness();
    await h.started(
      defineTasks({ "bad.input": () => Promise.reject(new PermanentError("unfixable")) }),
    );
    const id = await h.submit("bad.input", {}, { max_retries: 5 });
    const failed = await h.sink.waitForStatus(id, "FAILURE");
    expect(failed).toMatchObject({
      attempt: 0,
      deadLetterReason: "permanent_error",
      error: { type: "PermanentError" },
    });
  });

  it("treats an error marked retryable: false as permanent", async () => {
    h = new WorkerHarness();
    const error = Object.assign(new Error("do not retry"), { retryable: false });
    await h.started(defineTasks({ "marked.fail": () => Promise.reject(error) }));
    const id = await h.submit("marked.fail");
    expect(await h.sink.waitForStatus(id, "FAILURE")).toMatchObject({
      attempt: 0,
      deadLetterReason: "permanent_error",
    });
  });

  it("times out a handler via its AbortSignal and retries", async () => {
    h = new WorkerHarness();
    const reasons: unknown[] = [];
    await h.started(
      defineTasks({
        slow: async (_p, ctx) => {
          if (ctx.attempt > 0) return "fast enough";
          await sleep(10_000, ctx.signal).catch((reason: unknown) => {
            reasons.push(reason);
            throw reason;
          });
        },
      }),
    );
    const id = await h.submit("slow", {}, { timeout_ms: 100 });
    const retry = await h.sink.waitForStatus(id, "PENDING", { attempt: 1 });
    expect(retry.error?.type).toBe("TimeoutError");
    expect(reasons[0]).toBeInstanceOf(TimeoutError);
    expect(await h.sink.waitForStatus(id, "SUCCESS")).toMatchObject({
      attempt: 1,
      result: "fast enough",
    });
  });

  it("frees the slot of a handler that ignores its signal after the grace period", async () => {
    h = new WorkerHarness();
    const zombie = deferred<string>();
    await h.started(defineTasks({ stubborn: () => zombie.promise, quick: () => "done" }), {
      concurrency: 1,
      graceMs: 100,
    });
    const stuck = await h.submit("stubborn", {}, { timeout_ms: 100, max_retries: 0 });
    const failed = await h.sink.waitForStatus(stuck, "FAILURE");
    expect(failed).toMatchObject({
      deadLetterReason: "retries_exhausted",
      error: { type: "TimeoutError" },
    });
    expect(failed.durationMs).toBeGreaterThanOrEqual(190);
    // The only slot is free again although the zombie has not returned.
    const next = await h.submit("quick");
    await h.sink.waitForStatus(next, "SUCCESS");
    zombie.resolve("too late");
    await sleep(20);
    expect(h.sink.eventsOf(stuck).filter((e) => e.status === "SUCCESS")).toHaveLength(0);
  });

  it("never runs more than `concurrency` handlers at once", async () => {
    h = new WorkerHarness();
    let active = 0;
    let peak = 0;
    await h.started(
      defineTasks({
        work: async () => {
          peak = Math.max(peak, ++active);
          await sleep(15);
          active--;
        },
      }),
      { concurrency: 3 },
    );
    const results = await h.producer.submitBatch(
      Array.from({ length: 12 }, () => ({ function_key: "work" })),
    );
    const ids = results.map((r) => (r.ok ? r.task.id : ""));
    await h.sink.waitUntil(
      () => ids.every((id) => h.sink.eventsOf(id).some((e) => e.status === "SUCCESS")),
      "12 successes",
    );
    expect(peak).toBe(3);
  });

  it("records a monotonic event trail", async () => {
    h = new WorkerHarness();
    await h.started(
      defineTasks({
        twice: (_p, ctx) => (ctx.attempt < 2 ? Promise.reject(new Error("again")) : "ok"),
      }),
    );
    const id = await h.submit("twice");
    await h.sink.waitForStatus(id, "SUCCESS");
    // The producer's PENDING may arrive after the worker's STARTED (the broker can deliver before
    // the publish call returns): the store's merge orders them. The worker's own trail is ordered.
    const events = h.sink.eventsOf(id);
    const fromWorker = events.filter((e) => e.workerId !== undefined);
    expect(fromWorker.map((e) => `${e.status}@${e.run}.${e.attempt}`)).toEqual([
      "STARTED@0.0",
      "PENDING@0.1",
      "STARTED@0.1",
      "PENDING@0.2",
      "STARTED@0.2",
      "SUCCESS@0.2",
    ]);
    for (let i = 1; i < fromWorker.length; i++) {
      expect(supersedes(fromWorker[i] as TaskEvent, fromWorker[i - 1] as TaskEvent)).toBe(true);
    }
    const merged = events.reduce((current, e) => (supersedes(e, current) ? e : current));
    expect(merged).toMatchObject({ status: "SUCCESS", attempt: 2 });
  });

  it("survives handlers that throw non-errors, return unserializable results or throw synchronously", async () => {
    h = new WorkerHarness();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await h.started(
      defineTasks({
        "throws.string": () => Promise.reject("just a string"),
        "throws.sync": () => {
          throw new PermanentError("sync");
        },
        circular: () => circular,
      }),
    );
    const a = await h.submit("throws.string", {}, { max_retries: 0 });
    const b = await h.submit("throws.sync");
    const c = await h.submit("circular");
    expect(await h.sink.waitForStatus(a, "FAILURE")).toMatchObject({
      error: { message: "just a string" },
    });
    expect(await h.sink.waitForStatus(b, "FAILURE")).toMatchObject({
      deadLetterReason: "permanent_error",
    });
    expect((await h.sink.waitForStatus(c, "SUCCESS")).result).toMatchObject({
      unserializable: true,
    });
  });

  it("sends handler log lines to the tracking sink and a pino line for every lifecycle event", async () => {
    h = new WorkerHarness();
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk, _enc, next) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        next();
      },
    });
    await h.started(
      defineTasks({
        chatty: (_p, ctx) => {
          ctx.log.info(`hello from attempt ${ctx.attempt}`);
          if (ctx.attempt === 0) throw new Error("first try fails");
          return "ok";
        },
      }),
      { logger: pino({ level: "debug" }, stream) },
    );
    const id = await h.submit("chatty");
    await h.sink.waitForStatus(id, "SUCCESS");
    expect(h.sink.logs.map((l) => [l.taskId, l.attempt, l.level, l.message])).toEqual([
      [id, 0, "info", "hello from attempt 0"],
      [id, 1, "info", "hello from attempt 1"],
    ]);
    await h.sink.waitUntil(() => lines.some((l) => l.event === "succeeded"), "the succeeded line");
    const events = lines.filter((l) => l.task_id === id).map((l) => `${l.event}@${l.attempt}`);
    expect(events).toEqual([
      "started@0",
      "task_log@0",
      "failed@0",
      "retry_scheduled@1",
      "started@1",
      "task_log@1",
      "succeeded@1",
    ]);
    expect(lines.find((l) => l.event === "started")).toMatchObject({
      function_key: "chatty",
      worker_id: expect.any(String),
    });
  });
});
