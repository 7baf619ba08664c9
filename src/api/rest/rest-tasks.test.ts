import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiStack, startApiStack, statusOf } from "../api-stack.fixture.js";

// The REST routes end to end over fetch: a real SQLite broker and tracking store, a worker
// running the demo functions, the server on an ephemeral port.

describe("REST: tasks, queues, workers", () => {
  let s: ApiStack;
  beforeAll(async () => {
    s = await startApiStack({ worker: true });
  });
  afterAll(() => s.cleanup());

  it("submits a task with 202 and a Location, and it runs to SUCCESS", async () => {
    const r = await s.call("/v1/tasks", { body: { function_key: "demo.echo", payload: { a: 1 } } });
    expect(r.status).toBe(202);
    expect(r.json).toMatchObject({
      status: "PENDING",
      function_key: "demo.echo",
      queue: "default",
      priority: 5,
    });
    const id = String(r.json.id);
    expect(r.headers.get("location")).toBe(`/v1/tasks/${id}`);
    await statusOf(s.service, id, "SUCCESS");
    const got = await s.call(`/v1/tasks/${id}`);
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({
      id,
      status: "SUCCESS",
      function_key: "demo.echo",
      result: { a: 1 },
      run: 0,
    });
    expect(got.json.completed_at).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });

  it("accepts 998 of a batch of 1,000 with 2 invalid items, with precise errors in place", async () => {
    const before = await s.stats("bulk");
    const tasks: unknown[] = Array.from({ length: 1_000 }, (_, i) => ({
      function_key: "demo.echo",
      queue: "bulk",
      payload: { i },
    }));
    tasks[10] = { function_key: "demo.echo", queue: "bulk", priority: 42 };
    tasks[500] = { queue: "bulk", payload: {} };
    const r = await s.call("/v1/tasks/batch", { body: { tasks } });
    expect(r.status).toBe(202);
    const results = r.json.results as Array<{
      id?: string;
      status?: string;
      error?: { code: string; message: string; index: number };
    }>;
    expect(results).toHaveLength(1_000);
    expect(results.filter((x) => x.id && x.status === "PENDING")).toHaveLength(998);
    expect(results[10]?.error).toEqual({
      code: "invalid_argument",
      message: "priority must be an integer between 0 and 9 (got 42)",
      index: 10,
    });
    expect(results[500]?.error).toEqual({
      code: "invalid_argument",
      message: expect.stringMatching(/^function_key is required/),
      index: 500,
    });
    expect((await s.stats("bulk")).ready - before.ready).toBe(998);
  });

  it("cancels a running task with 202 and requeues it with 202 as run 1", async () => {
    const submitted = await s.call("/v1/tasks", {
      body: { function_key: "demo.sleep", payload: { ms: 60_000 } },
    });
    const id = String(submitted.json.id);
    await statusOf(s.service, id, "STARTED");
    const cancel = await s.call(`/v1/tasks/${id}/cancel`, { method: "POST" });
    expect(cancel.status).toBe(202);
    expect(cancel.json).toEqual({ id, status: "CANCEL_REQUESTED" });
    await statusOf(s.service, id, "CANCELED");
    const requeue = await s.call(`/v1/tasks/${id}/requeue`, { method: "POST" });
    expect(requeue.status).toBe(202);
    expect(requeue.json).toEqual({
      id,
      status: "PENDING",
      queue: "default",
      run: 1,
      source: "tracking",
    });
    await statusOf(s.service, id, "STARTED", 1);
    expect(
      (
        await s.call(`/v1/tasks/${id}/cancel`, {
          method: "POST",
          raw: "",
          type: "application/json",
        })
      ).status,
    ).toBe(202);
    await statusOf(s.service, id, "CANCELED", 1);
    const again = await s.call(`/v1/tasks/${id}/cancel`, { method: "POST" });
    expect(again.status).toBe(409);
    expect(again.json.detail).toMatch(/already ended with CANCELED/);
  });

  it("lists and requeues a queue's dead letters", async () => {
    const submitted = await s.call("/v1/tasks", {
      body: { function_key: "demo.fail", max_retries: 0 },
    });
    const id = String(submitted.json.id);
    await statusOf(s.service, id, "FAILURE");
    const list = await s.call("/v1/queues/default/dlq?reason=retries_exhausted&limit=50");
    expect(list.status).toBe(200);
    expect(list.json.entries).toContainEqual(
      expect.objectContaining({ id, function_key: "demo.fail", reason: "retries_exhausted" }),
    );
    const requeued = await s.call("/v1/queues/default/dlq/requeue", { body: { ids: [id] } });
    expect(requeued.status).toBe(202);
    expect(requeued.json).toEqual({
      requeued: [{ id, status: "PENDING", queue: "default", run: 1, source: "dead_letter_queue" }],
    });
    await statusOf(s.service, id, "FAILURE", 1);
  });

  it("lists tasks by status with a cursor, and answers logs", async () => {
    const ids: string[] = [];
    for (const ms of [1, 2, 3]) {
      const r = await s.call("/v1/tasks", {
        body: { function_key: "demo.sleep", payload: { ms } },
      });
      ids.push(String(r.json.id));
    }
    for (const id of ids) await statusOf(s.service, id, "SUCCESS");
    const first = await s.call("/v1/tasks?status=SUCCESS&function_key=demo.sleep&limit=2");
    expect(first.status).toBe(200);
    expect((first.json.tasks as unknown[]).length).toBe(2);
    const next = await s.call(
      `/v1/tasks?status=SUCCESS&function_key=demo.sleep&limit=2&cursor=${encodeURIComponent(String(first.json.next_cursor))}`,
    );
    expect((next.json.tasks as Array<{ id: string }>).map((t) => t.id)).toContain(ids[0]);
    const logs = await s.call(`/v1/tasks/${ids[0]}/logs`);
    expect(logs.json.lines).toEqual([
      expect.objectContaining({ attempt: 0, level: "info", message: "sleeping 1 ms" }),
    ]);
  });

  it("answers queues, workers and functions in snake_case", async () => {
    const queues = await s.call("/v1/queues");
    expect(queues.json.queues).toContainEqual(
      expect.objectContaining({
        queue: "default",
        in_flight: expect.any(Number),
        dead_lettered: expect.any(Number),
      }),
    );
    const workers = await s.call("/v1/workers");
    expect(workers.json.workers).toEqual([
      expect.objectContaining({
        functions: expect.arrayContaining(["demo.echo"]),
        seen_at: expect.any(String),
      }),
    ]);
    const functions = await s.call("/v1/functions");
    expect((functions.json.functions as Array<{ key: string }>).map((f) => f.key)).toEqual([
      "demo.echo",
      "demo.fail",
      "demo.flaky",
      "demo.sleep",
    ]);
  });

  it("serves health, readiness, OpenAPI and metrics", async () => {
    expect((await s.call("/healthz", { key: null })).json).toEqual({ status: "ok" });
    expect((await s.call("/readyz", { key: null })).json).toEqual({ status: "ready" });
    const metrics = await s.call("/metrics");
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(metrics.text).toMatch(/^gotaskq_tasks_submitted_total \d+$/m);
    expect(metrics.text).toMatch(
      /gotaskq_http_requests_total\{method="POST",route="\/v1\/tasks",status="202"\} \d+/,
    );
    expect((await s.call("/metrics", { key: null })).status).toBe(401);
  });
});

describe("REST: readiness without a broker", () => {
  it("answers /readyz with 503 once the broker is unreachable, and /healthz still 200", async () => {
    const s = await startApiStack();
    try {
      await s.broker.close();
      const r = await s.call("/readyz", { key: null });
      expect(r.status).toBe(503);
      expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(r.json.detail).toMatch(/closed/);
      expect((await s.call("/healthz", { key: null })).status).toBe(200);
    } finally {
      await s.cleanup();
    }
  });
});
