import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GoTaskQError, UnknownFunctionError } from "../core/errors.js";
import { newTaskId } from "../core/ids.js";
import type { TaskStatus } from "../core/status.js";
import { type ApiStack, startApiStack, statusOf, until } from "./api-stack.fixture.js";
import { httpStatusOf } from "./error-status.js";

// The transport-agnostic service over a real SQLite broker and tracking store, with a worker
// running the demo functions.

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return error instanceof GoTaskQError ? error.code : `no GoTaskQError: ${String(error)}`;
}

describe("TaskService", () => {
  let s: ApiStack;
  beforeAll(async () => {
    s = await startApiStack({ worker: true });
  });
  afterAll(() => s.cleanup());

  it("submits a task that a worker runs to SUCCESS, and get() returns its record", async () => {
    const task = await s.service.submit({ function_key: "demo.echo", payload: { n: 1 } });
    expect(task).toMatchObject({ status: "PENDING", function_key: "demo.echo", queue: "default" });
    const record = await statusOf(s.service, task.id, "SUCCESS");
    expect(record.result).toEqual({ n: 1 });
  });

  it("watch() yields each status change and ends with the final one", async () => {
    const { id } = await s.service.submit({ function_key: "demo.sleep", payload: { ms: 150 } });
    const seen: TaskStatus[] = [];
    for await (const record of s.service.watch(id, new AbortController().signal)) {
      seen.push(record.status);
    }
    expect(seen.at(-1)).toBe("SUCCESS");
    expect(seen).toContain("STARTED");
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("watch() fails with not_found for an id never tracked, and ends quietly on abort", async () => {
    const iterator = s.service.watch(newTaskId(), new AbortController().signal);
    await expect(
      codeOf(
        (async () => {
          for await (const _ of iterator) {
            /* none */
          }
        })(),
      ),
    ).resolves.toBe("not_found");
    const { id } = await s.service.submit({ function_key: "demo.sleep", payload: { ms: 5_000 } });
    const abort = new AbortController();
    const seen: string[] = [];
    for await (const record of s.service.watch(id, abort.signal)) {
      seen.push(record.status);
      abort.abort();
    }
    expect(seen).toHaveLength(1);
    await s.service.cancel(id);
  });

  it("answers a batch of 1,000 in order: 998 accepted, 2 precise errors in place", async () => {
    const before = await s.stats("batch");
    const tasks: unknown[] = Array.from({ length: 1_000 }, (_, i) => ({
      function_key: "demo.echo",
      queue: "batch",
      payload: { i },
    }));
    tasks[7] = { function_key: "demo.nope", queue: "batch" };
    tasks[999] = { function_key: "demo.echo", queue: "batch", priority: 42 };
    const { results } = await s.service.submitBatch({ tasks });
    expect(results).toHaveLength(1_000);
    expect(results.filter((r) => "id" in r)).toHaveLength(998);
    expect(results[7]).toEqual({
      error: {
        code: "invalid_argument",
        message: expect.stringMatching(
          /^unknown function_key "demo\.nope"; did you mean "demo\.[a-z]+".* \(registered functions: demo\./,
        ),
        index: 7,
      },
    });
    expect(results[999]).toEqual({
      error: {
        code: "invalid_argument",
        message: "priority must be an integer between 0 and 9 (got 42)",
        index: 999,
      },
    });
    const after = await s.stats("batch");
    expect(after.ready - before.ready).toBe(998);
  });

  it("refuses a batch that is not {tasks:[1..1000]}", async () => {
    await expect(codeOf(s.service.submitBatch({ tasks: [] }))).resolves.toBe("invalid_argument");
    await expect(codeOf(s.service.submitBatch([{ function_key: "demo.echo" }]))).resolves.toBe(
      "invalid_argument",
    );
    const tooMany = Array.from({ length: 1_001 }, () => ({ function_key: "demo.echo" }));
    await expect(s.service.submitBatch({ tasks: tooMany })).rejects.toThrow(
      /1 to 1000 tasks \(got 1001\); split/,
    );
  });

  it("refuses unknown function keys (422) and schema-violating payloads (400) with a registry", async () => {
    const error = await s.service.submit({ function_key: "demo.ech" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownFunctionError);
    expect(httpStatusOf(error)).toBe(422);
    expect((error as Error).message).toMatch(
      /did you mean "demo\.echo".*registered functions: demo\.echo/,
    );
    await expect(
      s.service.submit({ function_key: "demo.sleep", payload: { ms: "long" } }),
    ).rejects.toThrow(/payload does not match the schema of "demo\.sleep"/);
  });

  it("cancels a running task, then requeues it as run 1", async () => {
    const { id } = await s.service.submit({ function_key: "demo.sleep", payload: { ms: 60_000 } });
    await statusOf(s.service, id, "STARTED");
    expect(await s.service.cancel(id)).toEqual({ id, status: "CANCEL_REQUESTED" });
    await statusOf(s.service, id, "CANCELED");
    const requeued = await s.service.requeue(id);
    expect(requeued).toMatchObject({ id, run: 1, source: "tracking" });
    await statusOf(s.service, id, "STARTED", 1);
    await s.service.cancel(id);
    await statusOf(s.service, id, "CANCELED", 1);
  });

  it("refuses to cancel a finished task (conflict) and to requeue a successful one", async () => {
    const { id } = await s.service.submit({ function_key: "demo.echo" });
    await statusOf(s.service, id, "SUCCESS");
    // The two messages agree: cancel does not suggest a requeue that requeue would refuse.
    await expect(s.service.cancel(id)).rejects.toThrow(
      /already ended with SUCCESS; nothing to cancel \(only FAILURE or CANCELED tasks can be requeued: submit it again/,
    );
    await expect(s.service.requeue(id)).rejects.toThrow(
      /only FAILURE or CANCELED tasks can be requeued/,
    );
    await expect(codeOf(s.service.requeue(id))).resolves.toBe("conflict");
  });

  it("lists and requeues dead letters", async () => {
    const { id } = await s.service.submit({
      function_key: "demo.fail",
      queue: "default",
      max_retries: 0,
      payload: { message: "boom" },
    });
    await statusOf(s.service, id, "FAILURE");
    const page = await s.service.deadLetters("default", { limit: "10" });
    const entry = page.entries.find((e) => e.id === id);
    expect(entry).toMatchObject({ function_key: "demo.fail", reason: "retries_exhausted", run: 0 });
    expect(entry?.dead_lettered_at).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    const { requeued } = await s.service.requeueDeadLetters("default", { ids: [id] });
    expect(requeued).toEqual([{ id, queue: "default", run: 1, source: "dead_letter_queue" }]);
    await statusOf(s.service, id, "FAILURE", 1);
    await expect(s.service.requeueDeadLetters("default", { ids: [id], all: true })).rejects.toThrow(
      /exactly one of/,
    );
    await expect(s.service.deadLetters("no queue!")).rejects.toThrow(/queue must match/);
  });

  it("lists tasks with filters given as query-string text", async () => {
    const { id } = await s.service.submit({ function_key: "demo.echo" });
    await statusOf(s.service, id, "SUCCESS");
    const page = await s.service.list({ status: "success,FAILURE", q: id, limit: "5" });
    expect(page.tasks.map((t) => t.id)).toEqual([id]);
    await expect(s.service.list({ since: "yesterday" })).rejects.toThrow(
      /since must be an ISO 8601 time/,
    );
    await expect(s.service.list({ limit: "501" })).rejects.toThrow(
      /limit must be an integer between 1 and 500/,
    );
    await expect(s.service.list({ sort: "id" })).rejects.toThrow(/unknown list query field "sort"/);
  });

  it("answers logs, queues, workers and functions", async () => {
    const { id } = await s.service.submit({ function_key: "demo.sleep", payload: { ms: 1 } });
    await statusOf(s.service, id, "SUCCESS");
    const lines = await until(async () => {
      const l = await s.service.logs(id);
      return l.length > 0 ? l : undefined;
    }, "log lines");
    expect(lines[0]?.message).toBe("sleeping 1 ms");
    expect((await s.service.queues()).map((q) => q.queue)).toContain("default");
    const workers = await until(async () => {
      const w = await s.service.workers();
      return w.length > 0 ? w : undefined;
    }, "a worker heartbeat");
    expect(workers[0]?.functions).toContain("demo.echo");
    const functions = await s.service.functions();
    expect(functions.map((f) => f.key)).toEqual([
      "demo.echo",
      "demo.fail",
      "demo.flaky",
      "demo.sleep",
    ]);
    expect(functions[0]).toMatchObject({ queue: "default", description: "returns its payload" });
  });

  it("refuses invalid ids, and answers not_found for untracked ones", async () => {
    await expect(s.service.get("42")).rejects.toThrow(/task id must be a lowercase UUID/);
    await expect(codeOf(s.service.get(newTaskId()))).resolves.toBe("not_found");
    await expect(codeOf(s.service.cancel(undefined))).resolves.toBe("invalid_argument");
  });
});

describe("TaskService without a registry", () => {
  let s: ApiStack;
  beforeAll(async () => {
    s = await startApiStack({ registry: false, worker: true });
  });
  afterAll(() => s.cleanup());

  it("accepts any well-formed function key", async () => {
    const task = await s.service.submit({ function_key: "not.registered.anywhere" });
    expect(task.status).toBe("PENDING");
  });

  it("lists the functions live workers announce", async () => {
    const functions = await until(async () => {
      const f = await s.service.functions();
      return f.length > 0 ? f : undefined;
    }, "functions from heartbeats");
    expect(functions).toEqual([
      { key: "demo.echo" },
      { key: "demo.fail" },
      { key: "demo.flaky" },
      { key: "demo.sleep" },
    ]);
  });

  it("is ready while the broker answers, and unavailable once it is gone", async () => {
    await expect(s.service.ready()).resolves.toBeUndefined();
    await s.broker.close();
    await expect(codeOf(s.service.ready())).resolves.toBe("unavailable");
  });
});
